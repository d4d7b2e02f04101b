namespace Gpt2Onnx.Runtime.IO;

/// <summary>
/// Whole files read with a byte limit that holds whatever size the file system reports: a device, a pipe, or
/// a link to one (/dev/zero reports 0 bytes and never ends) is cut off at the limit instead of filling memory.
/// </summary>
public static class BoundedFile
{
    /// <summary>The bytes of <paramref name="path"/>, or null when it holds more than <paramref name="maxBytes"/>.</summary>
    public static byte[]? ReadAllBytes(string path, long maxBytes)
    {
        if (maxBytes < 0 || maxBytes >= Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(maxBytes));
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
        long reported = stream.CanSeek ? stream.Length : 0; // 0 for devices and pipes: their length is only known at their end
        if (reported > maxBytes) return null;
        var buffer = new byte[Math.Min(maxBytes + 1, Math.Max(reported + 1, 1 << 16))];
        int filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                if (filled > maxBytes) return null;
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1, 2L * buffer.Length));
            }
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0) return buffer.AsSpan(0, filled).ToArray();
            filled += read;
        }
    }
}
