namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// Weight-only 4-bit quantization in MatMulNBits' layout: for each output column n, the K weights are cut
/// into blocks; each block gets a scale and a 4-bit zero point (asymmetric, min to max), and its values
/// become 4-bit codes packed two per byte, low nibble first.
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
                float scale = (max - min) / 15f;
                if (scale == 0) scale = 1f;
                int zero = Math.Clamp((int)MathF.Round(-min / scale), 0, 15);
                for (int i = 0; i < blockSize; i++)
                    q[i] = (byte)Math.Clamp((int)MathF.Round(values[i] / scale) + zero, 0, 15);
                long offset = ((long)col * blocks + b) * blob;
                for (int j = 0; j < blob; j++) codes[offset + j] = (byte)(q[2 * j] | (q[2 * j + 1] << 4));
                scales[col * blocks + b] = scale;
                int zi = col * zeroBytes + b / 2;
                zeroPoints[zi] = (byte)(b % 2 == 0 ? (zeroPoints[zi] & 0xF0) | zero : (zeroPoints[zi] & 0x0F) | (zero << 4));
            }
        });
        return new Result(codes, scales, zeroPoints, blocks);
    }
}
