using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>Exported graphs of small random checkpoints, run in ONNX Runtime, against the independent
/// reference.</summary>
public sealed class ExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly int[] Prompt = [5, 17, 3, 90, 42, 42, 0, 11, 64, 2];

    private (Gpt2Config Config, ReferenceGpt2 Reference, string Onnx) Export(
        ExportOptions options, string activation = "gelu_new", string prefix = "",
        TensorElementType dtype = TensorElementType.Float)
    {
        var config = TinyCheckpoint.Config(activation: activation);
        string checkpointDir = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), config, seed: 11, prefix: prefix,
                                                    dtype: dtype);
        using var checkpoint = Gpt2Checkpoint.Open(checkpointDir);
        var reference = new ReferenceGpt2(checkpoint);
        string onnx = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpointDir, onnx, options);
        return (config, reference, onnx);
    }

    private static double MaxAbsDiff(double[][] expected, List<float[]> actual)
    {
        Assert.Equal(expected.Length, actual.Count);
        double max = 0;
        for (int i = 0; i < expected.Length; i++)
            for (int v = 0; v < expected[i].Length; v++)
                max = Math.Max(max, Math.Abs(expected[i][v] - actual[i][v]));
        return max;
    }

    private static double Top1Agreement(double[][] expected, List<float[]> actual) =>
        expected.Select((row, i) => Array.IndexOf(row, row.Max()) == Array.IndexOf(actual[i], actual[i].Max())
                        ? 1.0 : 0.0).Average();

    [Theory]
    [InlineData("gelu_new")]
    [InlineData("gelu")]
    public void Portable_fp32_matches_the_reference_without_a_past(string activation)
    {
        var (config, reference, onnx) = Export(new ExportOptions(), activation);
        using var runner = new ExportedGraphRunner(onnx, config);
        Assert.True(MaxAbsDiff(reference.Forward(Prompt), runner.RunPortable(Prompt)) < 1e-4);
    }

    [Fact]
    public void Portable_fp32_matches_the_reference_with_a_past()
    {
        var (config, reference, onnx) = Export(new ExportOptions());
        using var runner = new ExportedGraphRunner(onnx, config);
        var logits = runner.RunPortable(Prompt[..6], Prompt[6..8], Prompt[8..9], Prompt[9..]);
        Assert.True(MaxAbsDiff(reference.Forward(Prompt), logits) < 1e-4);
    }

    [Fact]
    public void Fused_fp32_matches_the_reference_with_and_without_a_past()
    {
        var (config, reference, onnx) = Export(new ExportOptions { Variant = GraphVariant.Fused });
        using var runner = new ExportedGraphRunner(onnx, config);
        var expected = reference.Forward(Prompt);
        Assert.True(MaxAbsDiff(expected, runner.RunFused(config.NPositions, Prompt)) < 1e-3);
        Assert.True(MaxAbsDiff(expected,
                               runner.RunFused(config.NPositions, Prompt[..6], Prompt[6..7], Prompt[7..8],
                                               Prompt[8..])) < 1e-3);
    }

    [Fact]
    public void Fused_int4_agrees_with_the_reference_on_the_top_token()
    {
        var (config, reference, onnx) =
            Export(new ExportOptions { Variant = GraphVariant.Fused, Precision = Precision.Int4 });
        using var runner = new ExportedGraphRunner(onnx, config);
        var expected = reference.Forward(Prompt);
        double agreement = Top1Agreement(expected,
                                         runner.RunFused(config.NPositions, Prompt[..5], Prompt[5..6], Prompt[6..]));
        Assert.True(agreement >= 0.7, $"int4 top-1 agreement {agreement:P0}");
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void Fp16_declares_a_float16_cache_and_float_logits_and_agrees_with_the_reference(GraphVariant variant)
    {
        var (config, reference, onnx) = Export(new ExportOptions { Variant = variant, Precision = Precision.Fp16 });
        using var runner = new ExportedGraphRunner(onnx, config);
        Assert.Equal(TensorElementType.Float16, runner.Session.Input(GraphNames.PastKey(0))!.ElementType);
        Assert.Equal(TensorElementType.Float16,
                     runner.Session.Outputs.Single(o => o.Name == GraphNames.PresentValue(1)).ElementType);
        Assert.Equal(TensorElementType.Float,
                     runner.Session.Outputs.Single(o => o.Name == GraphNames.Logits).ElementType);
        var expected = reference.Forward(Prompt);
        var logits = variant == GraphVariant.Portable
            ? runner.RunPortable(Prompt[..6], Prompt[6..7], Prompt[7..])
            : runner.RunFused(config.NPositions, Prompt[..6], Prompt[6..7], Prompt[7..]);
        double agreement = Top1Agreement(expected, logits), diff = MaxAbsDiff(expected, logits);
        Assert.True(agreement == 1.0, $"fp16 top-1 agreement {agreement:P0}");
        Assert.True(diff < 2e-2, $"fp16 max |Δlogit| {diff:E2}");
        Assert.True(diff > 0, "an fp16 graph cannot match a float64 reference exactly: were the weights rounded at " +
                              "all?");
    }

    [Theory]
    [InlineData(GraphVariant.Portable, Precision.Fp32)]
    [InlineData(GraphVariant.Fused, Precision.Fp32)]
    [InlineData(GraphVariant.Fused, Precision.Int4)]
    public void Logits_to_keep_is_optional_and_limits_the_logits_to_the_last_positions(GraphVariant variant,
                                                                                       Precision precision)
    {
        var (config, _, onnx) = Export(new ExportOptions { Variant = variant, Precision = precision });
        using var runner = new ExportedGraphRunner(onnx, config);
        Assert.Null(runner.Session.Inputs.FirstOrDefault(i => i.Name == GraphNames.LogitsToKeep)); // not required ...
        // ... but there
        Assert.Equal(TensorElementType.Int64, runner.Session.Input(GraphNames.LogitsToKeep)!.ElementType);
        List<float[]> Run() => variant == GraphVariant.Portable
            ? runner.RunPortable(Prompt[..7], Prompt[7..])
                : runner.RunFused(config.NPositions, Prompt[..7], Prompt[7..]);
        // fp32 rows are computed the same way whatever else is computed; int4's kernel quantizes its input
        // per call, so rows differ in the last bits.
        double tolerance = precision == Precision.Int4 ? 1e-4 : 0;
        void Same(List<float[]> expected, List<float[]> actual)
        {
            Assert.Equal(expected.Count, actual.Count);
            Assert.True(MaxAbsDiff(expected.Select(r => r.Select(v => (double)v).ToArray()).ToArray(),
                                   actual) <= tolerance);
        }
        var all = Run();
        Assert.Equal(Prompt.Length, all.Count);
        runner.LogitsToKeep = 0;
        Same(all, Run());
        runner.LogitsToKeep = 1; // the last position of each chunk
        Same([all[6], all[9]], Run());
        runner.LogitsToKeep = 2;
        Same([all[5], all[6], all[8], all[9]], Run());
        runner.LogitsToKeep = 100; // more than there are: all
        Same(all, Run());
    }

    [Theory]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    public void Half_precision_checkpoints_with_the_transformer_prefix_export(TensorElementType dtype)
    {
        var (config, reference, onnx) = Export(new ExportOptions(), prefix: "transformer.", dtype: dtype);
        using var runner = new ExportedGraphRunner(onnx, config);
        Assert.True(MaxAbsDiff(reference.Forward(Prompt), runner.RunPortable(Prompt)) < 1e-4);
    }
}
