using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using GenAi = Microsoft.ML.OnnxRuntimeGenAI;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// Greedy continuations of exactly <c>newTokens</c> tokens (end-of-text held off by a minimum length, in both),
/// from onnxruntime-genai's Generator and from this runtime's, for the same prompt ids.
/// </summary>
internal static class Greedy
{
    public static int[] FromGenAi(string folder, int[] prompt, int newTokens)
    {
        using var model = new GenAi.Model(folder);
        using var search = new GenAi.GeneratorParams(model);
        search.SetSearchOption("do_sample", false);
        search.SetSearchOption("max_length", prompt.Length + newTokens);
        search.SetSearchOption("min_length", prompt.Length + newTokens);
        using var generator = new GenAi.Generator(model, search);
        generator.AppendTokens(prompt);
        while (!generator.IsDone()) generator.GenerateNextToken();
        var sequence = generator.GetSequence(0).ToArray();
        Assert.Equal(prompt, sequence[..prompt.Length]);
        return sequence[prompt.Length..];
    }

    public static int[] FromOurs(string folder, int[] prompt, int newTokens)
    {
        using var model = LanguageModel.Load(folder);
        using var generator = new Generator(model);
        var options = new SamplingOptions { Greedy = true, MinNewTokens = newTokens, MaxNewTokens = newTokens };
        return generator.Generate(new GenerationRequest { PromptIds = prompt, Options = options }).TokenIds;
    }
}
