using System.Text.Json.Nodes;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Model;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// A text the model writes at each evaluation (--sample-prompt, --sample-tokens): logged, and appended to the run's
/// samples.jsonl, so how its writing improves can be read step by step.
/// </summary>
internal static class TrainingSample
{
    public static void Write(Gpt2Model model, ITokenizer tokenizer, TrainOptions options, int eos, int step,
                             TextWriter log)
    {
        if (options.SampleTokens <= 0) return;
        var prompt = new List<int>();
        tokenizer.Encode(options.SamplePrompt, prompt);
        if (prompt.Count == 0) prompt.Add(eos);
        GenerationRequest.FitPrompt(prompt, model.Config.NPositions, options.SampleTokens,
                                    truncateLeft: true); // a long prompt's end
        // A fixed seed: samples of different steps differ only because the model changed.
        var sampling = SamplingDefaults.TrainedModel with { Seed = 1, MaxNewTokens = options.SampleTokens };
        var ids = ModelGenerator.Generate(model, prompt, sampling, [eos]);
        string text = options.SamplePrompt + tokenizer.Decode(ids.ToArray());
        log.WriteLine($"sample at step {step}: {text.Replace("\n", " / ")}");
        var row = new JsonObject { ["step"] = step, ["text"] = text };
        File.AppendAllText(Path.Combine(options.OutputDirectory, "samples.jsonl"),
                           row.ToJsonString(JsonText.Readable) + "\n");
    }
}
