using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

/// <summary>
/// The bytes of weights a decode step reads, from the graph alone, against the count from the model's
/// shapes: every weight once, one row of a table that is only looked up.
/// </summary>
public sealed class WeightTrafficTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Gpt2Onnx.Core.Checkpoints.Gpt2Config Config = TinyCheckpoint.Config(embd: 64);
    private const int ShapeConstantBytes = 512; // the graph's int64 shape constants, also initializers

    private string Export(ExportOptions options)
    {
        string checkpoint = Path.Combine(_dir, "ckpt");
        if (!Directory.Exists(checkpoint)) TinyCheckpoint.Write(checkpoint, Config, seed: 3);
        string onnx = Path.Combine(_dir, $"onnx-{options.Variant}-{options.Precision}-{options.Head}");
        OnnxExporter.Export(checkpoint, onnx, options);
        return Path.Combine(onnx, OnnxExporter.ModelFile);
    }

    /// <summary>The float weights but wte, wpe and the projections: biases, LayerNorm gains and shifts.</summary>
    private static long SmallFloats(Gpt2Onnx.Core.Checkpoints.Gpt2Config c) =>
        c.NLayer * (4L * c.NEmbd + 3 * c.NEmbd + c.NEmbd + c.InnerSize + c.NEmbd) + 2 * c.NEmbd;

    /// <summary>MatMulNBits' bytes for a (K, N) weight: codes, float scales and zero points per block of 32.</summary>
    private static long Quantized(long k, long n, int bits)
    {
        long blocks = (k + 31) / 32;
        return n * blocks * 32 * bits / 8 + 4 * n * blocks + n * (bits == 4 ? (blocks + 1) / 2 : blocks);
    }

    private static long Projections(Gpt2Onnx.Core.Checkpoints.Gpt2Config c, Func<long, long, long> bytes) =>
        c.NLayer * (bytes(c.NEmbd, 3 * c.NEmbd) + bytes(c.NEmbd, c.NEmbd)
                    + bytes(c.NEmbd, c.InnerSize) + bytes(c.InnerSize, c.NEmbd));

    private static void Within(long expected, long actual) =>
        Assert.True(actual >= expected && actual <= expected + ShapeConstantBytes,
                    $"expected {expected} (+ shape constants), got {actual}");

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void A_float_graph_reads_every_weight_once_and_one_row_of_wpe(GraphVariant variant)
    {
        var c = Config;
        long floats = c.ParameterCount - (long)c.NPositions * c.NEmbd + c.NEmbd; // wte in full (the head), a wpe row
        Within(4 * floats, WeightTraffic.PerDecodeStep(Export(new ExportOptions { Variant = variant })));
    }

    [Theory]
    [InlineData(Precision.Int4, null, 4, 4, 3)] // an int4 head keeps a 32nd of its rows, 96 / 32, in int8
    [InlineData(Precision.Int8, null, 8, 8, 0)]
    [InlineData(Precision.Int4, HeadPrecision.Int8, 4, 8, 0)]
    public void A_quantized_graph_reads_its_codes_scales_and_zero_points_and_one_row_of_wpe(
        Precision precision, HeadPrecision? head, int bits, int headBits, int int8Rows)
    {
        var c = Config;
        long expected = Projections(c, (k, n) => Quantized(k, n, bits)) + Quantized(c.NEmbd, int8Rows, 8)
                        + Quantized(c.NEmbd, c.VocabSize - int8Rows, headBits) + 4 * (SmallFloats(c) + c.NEmbd);
        var options = new ExportOptions { Variant = GraphVariant.Fused, Precision = precision, Head = head };
        Within(expected, WeightTraffic.PerDecodeStep(Export(options)));
    }

    [Fact]
    public void A_float_head_beside_int4_blocks_reads_the_float_table_in_full()
    {
        var c = Config;
        long expected = Projections(c, (k, n) => Quantized(k, n, 4))
                        + 4 * ((long)c.VocabSize * c.NEmbd + SmallFloats(c) + c.NEmbd);
        Within(expected, WeightTraffic.PerDecodeStep(Export(new ExportOptions
        {
            Variant = GraphVariant.Fused, Precision = Precision.Int4, Head = HeadPrecision.Fp32,
        })));
    }

    [Fact]
    public void A_file_that_is_not_a_model_is_one_clear_error()
    {
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(path, [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]); // a graph field longer than the file
        var error = Assert.Throws<Gpt2OnnxException>(() => WeightTraffic.PerDecodeStep(path));
        Assert.Contains("is not a well-formed ONNX model", error.Message);
    }
}
