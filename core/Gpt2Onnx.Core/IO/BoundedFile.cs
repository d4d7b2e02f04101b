namespace Gpt2Onnx.Core.IO;

/// <summary>
/// Whole files read with a byte limit that holds whatever size the file system reports: a device, a pipe, or
/// a link to one (/dev/zero reports 0 bytes and never ends) is cut off at the limit instead of filling memory.
/// </summary>
public static class BoundedFile
{
    /// <summary>The bytes of <paramref name="path"/>, or null when it holds more than <paramref
    /// name="maxBytes"/>.</summary>
    public static byte[]? ReadAllBytes(string path, long maxBytes)
    {
        if (maxBytes < 0 || maxBytes >= Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(maxBytes));
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1);
        // 0 for devices and pipes: their length is only known at their end
        long reported = stream.CanSeek ? stream.Length : 0;
        if (reported > maxBytes) return null;
        // A regular file fills a buffer of its own size and is returned as it is; one that reports 0 or grows
        // (a device, a pipe) grows the buffer, never past the limit.
        var buffer = new byte[reported > 0 ? reported : Math.Min(maxBytes + 1, 1 << 16)];
        int filled = 0;
        while (true)
        {
            if (filled > maxBytes) return null;
            if (filled == buffer.Length)
            {
                int next = stream.ReadByte(); // is there more than the buffer holds?
                if (next < 0) return buffer;
                Array.Resize(ref buffer, (int)Math.Min(maxBytes + 1, Math.Max(2L * buffer.Length, 1 << 16)));
                buffer[filled++] = (byte)next;
                continue;
            }
            int read = stream.Read(buffer, filled, buffer.Length - filled);
            if (read == 0) return buffer.AsSpan(0, filled).ToArray();
            filled += read;
        }
    }
}
