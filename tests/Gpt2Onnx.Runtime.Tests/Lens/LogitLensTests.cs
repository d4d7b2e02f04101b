using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Lens;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Lens;

/// <summary>A tiny checkpoint, its normal portable export and its --with-hidden-states export, made once.</summary>
public sealed class LensModels : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    public string Portable { get; }
    public string WithHiddenStates { get; }
    public string Checkpoint { get; }
    public ReferenceGpt2 Reference { get; }

    public LensModels()
    {
        (Checkpoint, Portable, _) = TinyModel.Export(_dir, seed: 8);
        WithHiddenStates = Path.Combine(_dir, "onnx-lens");
        OnnxExporter.Export(Checkpoint, WithHiddenStates, new ExportOptions { WithHiddenStates = true });
        using var opened = Gpt2Checkpoint.Open(Checkpoint);
        Reference = new ReferenceGpt2(opened);
    }

    public LanguageModel Load(string dir) => LanguageModel.Load(dir, new SessionSettings { IntraOpThreads = 1 });

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>
/// The logit lens against the float64 reference's own lens, and the last layer against the model's output.
/// </summary>
public sealed class LogitLensTests(LensModels models) : IClassFixture<LensModels>
{
    private static readonly int[] Ids = [10, 200, 33, 7, 8, 9, 90, 42];

    [Fact]
    public void Every_layers_top_candidates_and_chosen_token_probabilities_equal_the_float64_reference()
    {
        using var model = models.Load(models.WithHiddenStates);
        var report = LogitLens.Compute(model, Ids, Ids.Length, []);
        var expected = models.Reference.LensProbabilities(Ids); // [layer][position][V]
        Assert.Equal(model.Layers + 1, report.LayerNames.Length);
        for (int layer = 0; layer < expected.Length; layer++)
            for (int t = 0; t < Ids.Length; t++)
            {
                var p = expected[layer][t];
                var topIds = Enumerable.Range(0, p.Length).OrderByDescending(v => p[v]).Take(5).ToArray();
                Assert.Equal(topIds, report.Top[layer][t].Select(c => c.Id));
                foreach (var candidate in report.Top[layer][t])
                    Assert.Equal(p[candidate.Id], candidate.Probability, 1e-4);
                Assert.Equal(p[report.Chosen[t]], report.ChosenProbability[layer][t], 1e-4);
                Assert.Equal(1 + p.Count(q => q > p[report.Chosen[t]]), report.ChosenRank[layer][t]);
            }
    }

    [Fact]
    public void The_last_layers_lens_is_the_models_own_output_distribution()
    {
        using var normal = models.Load(models.Portable);
        float[] logits = normal.SequenceLogits(Ids);
        using var model = models.Load(models.WithHiddenStates);
        var report = LogitLens.Compute(model, Ids, Ids.Length, ["the"]);
        int v = model.VocabSize, last = report.LayerNames.Length - 1;
        for (int t = 0; t < Ids.Length; t++)
        {
            var row = logits.AsSpan(t * v, v).ToArray().Select(x => (double)x).ToArray();
            double max = row.Max(), sum = row.Sum(x => Math.Exp(x - max));
            var p = row.Select(x => Math.Exp(x - max) / sum).ToArray();
            Assert.Equal(Array.IndexOf(row, row.Max()), report.Chosen[t]);
            Assert.Equal(1, report.ChosenRank[last][t]);
            foreach (var candidate in report.Top[last][t]) Assert.Equal(p[candidate.Id], candidate.Probability, 1e-6);
            int compared = report.Compare[0].Id;
            Assert.Equal(p[compared], report.Compare[0].Probability[last][t], 1e-6);
            Assert.Equal(LogitLens.Rank(p, compared), report.Compare[0].Rank[last][t]);
        }
    }

    [Fact]
    public void The_normal_export_has_no_hidden_state_outputs_and_the_lens_says_how_to_get_them()
    {
        using var model = models.Load(models.Portable);
        Assert.DoesNotContain(model.Session.Outputs, o => o.Name.StartsWith("hidden_states."));
        var error = Assert.Throws<Gpt2OnnxException>(() => LogitLens.Compute(model, Ids, Ids.Length, []));
        Assert.Contains("--with-hidden-states", error.Message);
    }

    [Fact]
    public void The_hidden_state_export_generates_what_the_normal_export_generates()
    {
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 8 };
        var request = new GenerationRequest { PromptIds = Ids, Options = options };
        using var normal = models.Load(models.Portable);
        using var withStates = models.Load(models.WithHiddenStates);
        using var a = new Generator(normal);
        using var b = new Generator(withStates);
        Assert.Equal(a.Generate(request).TokenIds, b.Generate(request).TokenIds);
    }

    [Fact]
    public void Hidden_states_with_the_fused_variant_are_one_clear_error()
    {
        var options = new ExportOptions { WithHiddenStates = true, Variant = GraphVariant.Fused };
        Assert.Contains("portable fp32", Assert.Throws<Gpt2OnnxException>(() => options.Validate()).Message);
    }

    [Fact]
    public void A_compared_text_of_several_tokens_is_refused_with_the_reason()
    {
        using var model = models.Load(models.WithHiddenStates);
        string[] several = ["hello world, quick"];
        var error = Assert.Throws<Gpt2OnnxException>(() => LogitLens.Compute(model, Ids, Ids.Length, several));
        Assert.Contains("single tokens", error.Message);
    }
}
