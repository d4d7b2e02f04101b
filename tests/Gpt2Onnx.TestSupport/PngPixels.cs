using System.Buffers.Binary;
using System.IO.Compression;

namespace Gpt2Onnx.TestSupport;

/// <summary>
/// Reads the pixels of an 8-bit RGB or RGBA PNG (what Chromium's screenshots are), written from the PNG
/// specification: the IDAT chunks inflated, each scanline's filter undone. Enough to tell a rendered page
/// from a blank one.
/// </summary>
public static class PngPixels
{
    /// <summary>Width, height and the pixels as packed RGB(A) values, row by row.</summary>
    public static (int Width, int Height, uint[] Pixels) Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (!bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }))
            throw new InvalidDataException($"{path} is not a PNG file");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at < bytes.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(bytes, at + 4, 4);
            var data = bytes.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                if (data[8] != 8 || data[12] != 0) throw new InvalidDataException("only 8-bit, non-interlaced PNGs");
                channels = data[9] switch
                {
                    2 => 3, 6 => 4, _ => throw new InvalidDataException("only RGB or RGBA PNGs"),
                };
            }
            else if (type == "IDAT") idat.Write(data);
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(idat, CompressionMode.Decompress)) zlib.CopyTo(inflated);
        return (width, height, Unfilter(inflated.ToArray(), width, height, channels));
    }

    private static uint[] Unfilter(byte[] raw, int width, int height, int channels)
    {
        int stride = width * channels;
        var previous = new byte[stride];
        var current = new byte[stride];
        var pixels = new uint[width * height];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            raw.AsSpan(y * (stride + 1) + 1, stride).CopyTo(current);
            for (int i = 0; i < stride; i++)
            {
                int left = i >= channels ? current[i - channels] : 0, up = previous[i];
                int upLeft = i >= channels ? previous[i - channels] : 0;
                current[i] = (byte)(current[i] + filter switch
                {
                    0 => 0, 1 => left, 2 => up, 3 => (left + up) / 2, 4 => Paeth(left, up, upLeft),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                });
            }
            for (int x = 0; x < width; x++)
            {
                uint value = 0;
                for (int c = 0; c < channels; c++) value = value << 8 | current[x * channels + c];
                pixels[y * width + x] = value;
            }
            (previous, current) = (current, previous);
        }
        return pixels;
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
