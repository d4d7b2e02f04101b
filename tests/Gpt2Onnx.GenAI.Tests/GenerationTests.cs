using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// Every export runs unchanged in onnxruntime-genai (its Model, GeneratorParams and Generator), and its greedy
/// continuation is the one this runtime computes: the same graph, driven by two independent decoding loops
/// (their own caches, masks, positions and, for fused graphs, GenAI's own shared past/present buffer).
/// </summary>
[Collection(GenAiCollection.Name)]
public sealed class GenerationTests(TinyExports exports)
{
    private const int NewTokens = 64;

    [Theory]
    [InlineData(GraphVariant.Portable, Precision.Fp32)]
    [InlineData(GraphVariant.Portable, Precision.Fp16)]
    [InlineData(GraphVariant.Fused, Precision.Fp32)]
    [InlineData(GraphVariant.Fused, Precision.Fp16)]
    [InlineData(GraphVariant.Fused, Precision.Int4)]
    [InlineData(GraphVariant.Fused, Precision.Int8)]
    public void GenAis_greedy_ids_over_64_tokens_are_ours(GraphVariant variant, Precision precision)
    {
        string folder = exports.Bpe(variant, precision);
        int[] prompt = Tokenizer.Load(folder).Encode("the quick brown fox");

        int[] genAi = Greedy.FromGenAi(folder, prompt, NewTokens);

        Assert.Equal(NewTokens, genAi.Length);
        Assert.Equal(Greedy.FromOurs(folder, prompt, NewTokens), genAi);
    }

    [Fact]
    public void A_wordpiece_export_generates_from_ids_in_GenAi_as_in_ours()
    {
        // GenAI's tokenizer cannot read WordPiece (TokenizerTests); its Model and Generator run the export from ids.
        string folder = exports.WordPiece;
        int[] prompt = Tokenizer.Load(folder).Encode("床前明月光，hello");

        Assert.Equal(Greedy.FromOurs(folder, prompt, NewTokens), Greedy.FromGenAi(folder, prompt, NewTokens));
    }
}
