using System.Text.Json;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// GPT-2 checkpoints written by Hugging Face transformers' own save_pretrained (5.17), exported and run by
/// the runtime, against what transformers computed from them (HuggingFaceFixtures/NAME/expected.json, made by
/// scripts/reference/hf_reference.py): every logit of a prompt, greedy generation plain, with a repetition
/// penalty and with a minimum length, a left-padded batch of two prompts, and sliding-window perplexity.
/// The checkpoints cover both GELUs, n_inner, a layer_norm_epsilon of 1e-3, and float16 (sharded, with an
/// index) and bfloat16 files; each has every weight and bias moved away from its initial value.
/// </summary>
public sealed class HuggingFaceCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The fixture's checkpoint with a tokenizer of its 300 ids beside it (the runtime loads one; no text is
    /// compared).</summary>
    private string Checkpoint(string name)
    {
        string folder = Path.Combine(_dir, name);
        Directory.CreateDirectory(folder);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "HuggingFaceFixtures", name)))
            if (Path.GetFileName(file) != "expected.json")
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
        var tokenizer = BpeTrainer.Train(["the quick brown fox jumps over the lazy dog", "hello world, hello model",
                                          "床前明月光，疑是地上霜。"], vocabSize: 300, minFrequency: 1);
        Assert.Equal(300, tokenizer.VocabSize);
        tokenizer.Save(folder);
        return folder;
    }

    [Theory]
    [InlineData("gelu-new", GraphVariant.Portable)]
    [InlineData("gelu-new", GraphVariant.Fused)]
    [InlineData("gelu-erf-inner-eps", GraphVariant.Portable)]
    [InlineData("gelu-erf-inner-eps", GraphVariant.Fused)]
    [InlineData("float16-sharded", GraphVariant.Portable)]
    [InlineData("float16-sharded", GraphVariant.Fused)]
    [InlineData("bfloat16", GraphVariant.Portable)]
    [InlineData("bfloat16", GraphVariant.Fused)]
    public void An_export_computes_what_transformers_computed(string name, GraphVariant variant)
    {
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory,
            "HuggingFaceFixtures", name, "expected.json")));
        var root = expected.RootElement;
        string onnx = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(Checkpoint(name), onnx, new ExportOptions { Variant = variant });
        using var model = LanguageModel.Load(onnx);

        int[] prompt = Ints(root.GetProperty("prompt"));
        var logits = model.SequenceLogits(prompt);
        int position = 0;
        foreach (var row in root.GetProperty("prompt_logits").EnumerateArray())
        {
            int id = 0;
            foreach (var value in row.EnumerateArray())
            {
                float want = value.GetSingle(), got = logits[position * model.VocabSize + id];
                Assert.True(Math.Abs(got - want) <= 1e-4f * (1 + Math.Abs(want)),
                            $"position {position}, id {id}: {got}, transformers {want}");
                id++;
            }
            Assert.Equal(model.VocabSize, id);
            position++;
        }
        Assert.Equal(prompt.Length, position);

        using var generator = new Generator(model);
        foreach (string run in new[] { "greedy", "greedy_repetition_penalty", "greedy_min_new_tokens",
                                       "greedy_left_padded_batch" })
        {
            var reference = root.GetProperty(run);
            var hf = reference.GetProperty("options");
            var options = new SamplingOptions
            {
                Greedy = true,
                MaxNewTokens = reference.GetProperty("new_tokens").GetInt32(),
                RepetitionPenalty = hf.TryGetProperty("repetition_penalty", out var r) ? r.GetDouble() : 1.0,
                MinNewTokens = hf.TryGetProperty("min_new_tokens", out var m) ? m.GetInt32() : 0,
            };
            var prompts = reference.GetProperty("prompts").EnumerateArray().Select(Ints).ToArray();
            var continuations = reference.GetProperty("continuations").EnumerateArray().Select(Ints).ToArray();
            var results = generator.Generate(prompts.Select(p => new GenerationRequest { PromptIds = p,
                Options = options }).ToArray());
            for (int i = 0; i < prompts.Length; i++)
            {
                // transformers keeps the end-of-text that stopped a row; ours reports it as the finish reason.
                bool stopped = continuations[i].Length > 0 && continuations[i][^1] == model.EndOfTextId;
                Assert.Equal(continuations[i][..(stopped ? ^1 : ^0)], results[i].TokenIds);
                Assert.Equal(stopped ? FinishReasons.Stop : FinishReasons.Length, results[i].FinishReason);
            }
        }

        var window = root.GetProperty("sliding_window");
        int[] ids = Ints(window.GetProperty("ids"));
        foreach (var reference in window.GetProperty("results").EnumerateArray())
        {
            var ours = Perplexity.Evaluate(model, ids, reference.GetProperty("window").GetInt32(),
                                           reference.GetProperty("stride").GetInt32());
            Assert.Equal(reference.GetProperty("tokens").GetInt64(), ours.Tokens);
            double want = reference.GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(ours.Loss - want) <= 1e-5 * want,
                        $"window {reference.GetProperty("window")}, stride {reference.GetProperty("stride")}: loss " +
                        $"{ours.Loss}, transformers {want}");
        }
    }
}
