using System.Runtime.InteropServices;
using Gpt2Onnx.Exporter.Onnx;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// A weight quantized by <see cref="BlockQuantizer"/> as MatMulNBits' three initializers, and the
/// MatMulNBits node that multiplies by it. The scales (N, blocks) and zero points (N, zero bytes) are
/// written two-dimensional, the shapes GatherBlockQuantized also takes, so a tied table is stored once.
/// </summary>
internal sealed record QuantizedMatMul(string Codes, string Scales, string ZeroPoints, int K, int N,
                                       BlockQuantizer.Result Q)
{
    /// <summary>Quantizes w(k, n) (input k, output n) and adds its initializers, named after the weight.</summary>
    public static QuantizedMatMul Add(GraphBuilder g, string weightName, int k, int n, int blockSize, int bits,
                                      Func<int, int, float> weight)
    {
        var q = BlockQuantizer.Quantize(k, n, blockSize, bits, weight);
        var codes = g.Initializer($"{weightName}.q{bits}", T.UInt8, [n, q.Blocks, q.BlockBytes], q.Codes);
        var scales = g.Initializer(weightName + ".scales", T.Float, [n, q.Blocks],
                                   MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray());
        var zeros = g.Initializer(weightName + ".zero_points", T.UInt8, [n, q.ZeroPointBytes], q.ZeroPoints);
        return new QuantizedMatMul(codes, scales, zeros, k, n, q);
    }

    /// <summary>x (…, K) times the weight, plus <paramref name="bias"/> when given: (…, N).</summary>
    public string Apply(GraphBuilder g, string x, string name, string? outputName = null, string? bias = null)
    {
        string[] inputs = bias == null ? [x, Codes, Scales, ZeroPoints] : [x, Codes, Scales, ZeroPoints, "", bias];
        // accuracy_level 4: int8 activations inside the kernel, the fast CPU path for 4 and 8 bits.
        return g.Nodes("MatMulNBits", inputs, name, 1,
            [Int("K", K), Int("N", N), Int("bits", Q.Bits), Int("block_size", Q.BlockSize), Int("accuracy_level", 4)],
            "com.microsoft", outputName == null ? null : [outputName])[0];
    }
}
