using System.Numerics;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// Weight-only 4- or 8-bit quantization in MatMulNBits' layout: for each output column n, the K weights are
/// cut into blocks; each block gets a scale and a zero point (asymmetric), and its values become codes of
/// <c>bits</c> bits, two per byte low nibble first for 4 bits, one per byte for 8. Each block's range is the
/// one, among its min-to-max range and that range shrunk towards 0 (clipping a rare outlier to spend the
/// levels on the rest), whose codes give the least squared error, and the scale is then fitted to those
/// codes by least squares. GatherBlockQuantized reads the same bytes row by row, so a tied embedding
/// quantized here serves both the LM head and the token lookup.
/// </summary>
internal static class BlockQuantizer
{
    /// <summary>
    /// Codes (N, blocks, blockSize·bits/8), scales (N·blocks), zero points (N, ⌈blocks·bits/8⌉): the shapes
    /// MatMulNBits and GatherBlockQuantized both read.
    /// </summary>
    public sealed record Result(byte[] Codes, float[] Scales, byte[] ZeroPoints, int Blocks, int BlockSize, int Bits)
    {
        /// <summary>Bytes of codes per block.</summary>
        public int BlockBytes => BlockSize * Bits / 8;

        /// <summary>Bytes of zero points per column: two per byte for 4 bits.</summary>
        public int ZeroPointBytes => Bits == 4 ? (Blocks + 1) / 2 : Blocks;
    }

    /// <param name="column">w(k, n): the weight that multiplies input k for output n</param>
    public static Result Quantize(int k, int n, int blockSize, int bits, Func<int, int, float> column)
    {
        if (bits is not (4 or 8)) throw new ArgumentOutOfRangeException(nameof(bits), bits, "4 or 8 bits");
        int blocks = (k + blockSize - 1) / blockSize;
        int blob = blockSize * bits / 8;
        int zeroBytes = bits == 4 ? (blocks + 1) / 2 : blocks;
        var codes = new byte[(long)n * blocks * blob];
        var scales = new float[n * blocks];
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
                var (scale, zero) = BestBlock(values, min, max, (1 << bits) - 1, q);
                scales[col * blocks + b] = scale;
                var blockCodes = codes.AsSpan((int)(((long)col * blocks + b) * blob), blob);
                if (bits == 8)
                {
                    q.CopyTo(blockCodes);
                    zeroPoints[col * zeroBytes + b] = (byte)zero;
                    continue;
                }
                for (int j = 0; j < blob; j++) blockCodes[j] = (byte)(q[2 * j] | (q[2 * j + 1] << 4));
                int zi = col * zeroBytes + b / 2;
                zeroPoints[zi] = (byte)(b % 2 == 0 ? (zeroPoints[zi] & 0xF0) | zero
                                                   : (zeroPoints[zi] & 0x0F) | (zero << 4));
            }
        });
        return new Result(codes, scales, zeroPoints, blocks, blockSize, bits);
    }

    private const int Shrinks = 20; // ranges tried per block: min-to-max, then each 2% narrower, down to 62%

    /// <summary>
    /// The scale and zero point with the least squared error for one block (its codes, 0 to
    /// <paramref name="top"/>, written to <paramref name="codes"/>). The untouched min-to-max range is the first
    /// candidate, so no block ends up worse than plain min-max quantization. For codes d = q - zero the error of
    /// a scale s is Σv² - 2s·Σvd + s²·Σd², so each candidate costs one pass, and the best s for its codes is
    /// Σvd / Σd².
    /// </summary>
    private static (float Scale, int Zero) BestBlock(ReadOnlySpan<float> values, float min, float max, int top,
                                                     Span<byte> codes)
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
            float grid = (max - min) * shrink / top;
            int zero = Math.Clamp((int)MathF.Round(-min * shrink / grid), 0, top);
            var (valueCode, codeCode) = CodeSums(values, 1f / grid, zero, top);
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
        for (int i = 0; i < values.Length; i++) codes[i] = (byte)Code(values[i], 1f / bestGrid, bestZero, top);
        return (bestScale, bestZero);
    }

    private static float Code(float value, float inverseGrid, float zero, float top) =>
        Math.Clamp(MathF.Round(value * inverseGrid) + zero, 0f, top);

    /// <summary>Σv·d and Σd² for the codes d = q - zero of one block, eight values at a time where the CPU
    /// can.</summary>
    private static (double ValueCode, double CodeCode) CodeSums(ReadOnlySpan<float> values, float inverseGrid,
                                                                float zero,
                                                                float top)
    {
        int i = 0;
        double valueCode = 0, codeCode = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var inverse = new Vector<float>(inverseGrid);
            var zeros = new Vector<float>(zero);
            var tops = new Vector<float>(top);
            Vector<float> vd = Vector<float>.Zero, dd = Vector<float>.Zero;
            for (; i + Vector<float>.Count <= values.Length; i += Vector<float>.Count)
            {
                var v = new Vector<float>(values[i..]);
                var d = Vector.Min(Vector.Max(Vector.Round(v * inverse) + zeros, Vector<float>.Zero), tops) - zeros;
                vd += v * d;
                dd += d * d;
            }
            valueCode = Vector.Sum(vd);
            codeCode = Vector.Sum(dd);
        }
        for (; i < values.Length; i++)
        {
            float d = Code(values[i], inverseGrid, zero, top) - zero;
            valueCode += values[i] * d;
            codeCode += d * d;
        }
        return (valueCode, codeCode);
    }
}
