using System.Text;

namespace Gpt2Onnx.Core.IO;

/// <summary>What kept a line from being read.</summary>
public enum LineProblem { None, TooLong, NotUtf8 }

/// <summary>One line of a file: its number, and its text unless <see cref="Problem"/> kept it from being
/// read.</summary>
public readonly record struct BoundedLine(int Number, string? Text, LineProblem Problem);

/// <summary>
/// The lines of a UTF-8 text file, each at most a given length: a longer line comes back as
/// <see cref="LineProblem.TooLong"/> (with its number) without ever being held whole, so a hostile or broken
/// file cannot make a reader allocate without bound; a line that is not valid UTF-8 comes back as
/// <see cref="LineProblem.NotUtf8"/> rather than with replacement characters in it. A line ends at '\n'; a
/// '\r' before it is dropped, and so is a UTF-8 byte-order mark before the first. A UTF-16 or UTF-32 file is
/// refused as a whole, and so is a file holding a NUL byte (binary data, or a device that never ends a line).
/// </summary>
public static class BoundedLines
{
    private static readonly UTF8Encoding Strict =
        new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEnumerable<BoundedLine> Read(string path, int maxChars)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        foreach (var line in Read(stream, path, maxChars)) yield return line;
    }

    /// <summary>The lines from the stream's position to its end (the stream stays open); <paramref name="path"/> names
    /// it in errors.</summary>
    public static IEnumerable<BoundedLine> Read(Stream stream, string path, int maxChars)
    {
        var buffer = new byte[1 << 16];
        // a character is at most 4 bytes; + 1: room for a '\r' before the '\n'
        int maxBytes = checked(4 * maxChars + 1);
        var line = new MemoryStream();
        bool tooLong = false, first = true;
        int number = 0, read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            if (first)
            {
                first = false;
                if (read >= 2 && (buffer[0], buffer[1]) is (0xFF, 0xFE) or (0xFE, 0xFF) || read >= 4
                    && buffer[..4] is [0, 0, 0xFE, 0xFF])
                    throw new Gpt2OnnxException($"{path} is UTF-16 or UTF-32 text: save it as UTF-8");
                if (read >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF) start = 3;
            }
            if (buffer.AsSpan(start, read - start).Contains((byte)0))
                throw new Gpt2OnnxException($"{path} holds a NUL byte, which no text line holds: it is binary " +
                                            "data, a device such as /dev/zero, or UTF-16 without a byte-order mark; " +
                                            "pass UTF-8 text");
            for (int i = start; i < read; i++)
            {
                if (buffer[i] != (byte)'\n') continue;
                Append(buffer.AsSpan(start, i - start));
                yield return Finish(++number);
                start = i + 1;
            }
            Append(buffer.AsSpan(start, read - start));
        }
        if (line.Length > 0 || tooLong) yield return Finish(++number);

        void Append(ReadOnlySpan<byte> part)
        {
            if (tooLong) return;
            if (line.Length + part.Length > maxBytes)
            {
                tooLong = true;
                line.SetLength(0);
                return;
            }
            line.Write(part);
        }

        BoundedLine Finish(int lineNumber)
        {
            var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
            if (bytes.Length > 0 && bytes[^1] == (byte)'\r') bytes = bytes[..^1];
            var result = new BoundedLine(lineNumber, null, LineProblem.TooLong);
            if (!tooLong)
            {
                try
                {
                    string text = Strict.GetString(bytes);
                    if (text.Length <= maxChars) result = new BoundedLine(lineNumber, text, LineProblem.None);
                }
                catch (DecoderFallbackException)
                {
                    result = new BoundedLine(lineNumber, null, LineProblem.NotUtf8);
                }
            }
            line.SetLength(0);
            tooLong = false;
            return result;
        }
    }
}
