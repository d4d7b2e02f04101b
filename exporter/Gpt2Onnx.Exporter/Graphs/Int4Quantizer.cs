using System.Numerics;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// Weight-only 4-bit quantization in MatMulNBits' layout: for each output column n, the K weights are cut
/// into blocks; each block gets a scale and a 4-bit zero point (asymmetric), and its values become 4-bit
/// codes packed two per byte, low nibble first. Each block's range is the one, among its min-to-max range
/// and that range shrunk towards 0 (clipping a rare outlier to spend the 16 levels on the rest), whose
/// codes give the least squared error, and the scale is then fitted to those codes by least squares.
/// </summary>
internal static class Int4Quantizer
{
    public sealed record Result(byte[] Codes, float[] Scales, byte[] ZeroPoints, int Blocks);

    /// <param name="column">w(k, n): the weight that multiplies input k for output n</param>
    public static Result Quantize(int k, int n, int blockSize, Func<int, int, float> column)
    {
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize / 2;
        var codes = new byte[(long)n * blocks * blob];
        var scales = new float[n * blocks];
        int zeroBytes = (blocks + 1) / 2;
        var zeroPoints = new byte[n * zeroBytes];
        Parallel.For(0, n, col =>
        {
            var values = new float[blockSize];
            var q = new byte[blockSize];
            for (int b = 0; b < blocks; b++)
            {
                float min = 0, max = 0; // the range always includes 0, so zero-padding is exact
                for (int i = 0; i < blockSize; i++)
                {
                    int row = b * blockSize + i;
                    values[i] = row < k ? column(row, col) : 0f;
                    min = Math.Min(min, values[i]);
                    max = Math.Max(max, values[i]);
                }
                var (scale, zero) = BestBlock(values, min, max, q);
                long offset = ((long)col * blocks + b) * blob;
                for (int j = 0; j < blob; j++) codes[offset + j] = (byte)(q[2 * j] | (q[2 * j + 1] << 4));
                scales[col * blocks + b] = scale;
                int zi = col * zeroBytes + b / 2;
                zeroPoints[zi] = (byte)(b % 2 == 0 ? (zeroPoints[zi] & 0xF0) | zero : (zeroPoints[zi] & 0x0F) | (zero << 4));
            }
        });
        return new Result(codes, scales, zeroPoints, blocks);
    }

    private const int Shrinks = 20; // ranges tried per block: min-to-max, then each 2% narrower, down to 62%

    /// <summary>
    /// The scale and zero point with the least squared error for one block (its codes written to
    /// <paramref name="codes"/>). The untouched min-to-max range is the first candidate, so no block ends up
    /// worse than plain min-max quantization. For codes d = q - zero the error of a scale s is
    /// Σv² - 2s·Σvd + s²·Σd², so each candidate costs one pass, and the best s for its codes is Σvd / Σd².
    /// </summary>
    private static (float Scale, int Zero) BestBlock(ReadOnlySpan<float> values, float min, float max, Span<byte> codes)
    {
        if (max - min == 0)
        {
            codes.Fill(0);
            return (1f, 0); // every value is 0
        }
        double energy = 0;
        foreach (float v in values) energy += (double)v * v;
        double bestError = double.PositiveInfinity;
        float bestScale = 1f, bestGrid = 1f;
        int bestZero = 0;
        for (int step = 0; step < Shrinks; step++)
        {
            float shrink = 1f - 0.02f * step;
            float grid = (max - min) * shrink / 15f;
            int zero = Math.Clamp((int)MathF.Round(-min * shrink / grid), 0, 15);
            var (valueCode, codeCode) = CodeSums(values, 1f / grid, zero);
            double fitted = codeCode > 0 && valueCode > 0 ? valueCode / codeCode : grid;
            foreach (double scale in (ReadOnlySpan<double>)[grid, fitted])
            {
                double error = energy - 2 * scale * valueCode + scale * scale * codeCode;
                if (error < bestError)
                {
                    (bestError, bestScale, bestGrid, bestZero) = (error, (float)scale, grid, zero);
                }
            }
        }
        for (int i = 0; i < values.Length; i++) codes[i] = (byte)Code(values[i], 1f / bestGrid, bestZero);
        return (bestScale, bestZero);
    }

    private static float Code(float value, float inverseGrid, float zero) => Math.Clamp(MathF.Round(value * inverseGrid) + zero, 0f, 15f);

    /// <summary>Σv·d and Σd² for the codes d = q - zero of one block, eight values at a time where the CPU has the vectors.</summary>
    private static (double ValueCode, double CodeCode) CodeSums(ReadOnlySpan<float> values, float inverseGrid, float zero)
    {
        int i = 0;
        double valueCode = 0, codeCode = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var inverse = new Vector<float>(inverseGrid);
            var zeros = new Vector<float>(zero);
            var fifteen = new Vector<float>(15f);
            Vector<float> vd = Vector<float>.Zero, dd = Vector<float>.Zero;
            for (; i + Vector<float>.Count <= values.Length; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values[i..]);
                var d = Vector.Min(Vector.Max(Vector.Round(v * inverse) + zeros, Vector<float>.Zero), fifteen) - zeros;
                vd += v * d;
                dd += d * d;
            }
            valueCode = Vector.Sum(vd);
            codeCode = Vector.Sum(dd);
        }
        for (; i < values.Length; i++)
        {
            float d = Code(values[i], inverseGrid, zero) - zero;
            valueCode += values[i] * d;
            codeCode += d * d;
        }
        return (valueCode, codeCode);
    }
}
