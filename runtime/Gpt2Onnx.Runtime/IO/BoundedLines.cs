using System.Text;

namespace Gpt2Onnx.Runtime.IO;

/// <summary>
/// The lines of a UTF-8 text file, each at most a given length: a longer line comes back as null (with its
/// number) without ever being held whole, so a hostile or broken file cannot make a reader allocate
/// without bound. A line ends at '\n'; a '\r' before it is dropped.
/// </summary>
public static class BoundedLines
{
    public static IEnumerable<(int Number, string? Text)> Read(string path, int maxChars)
    {
        using var reader = new StreamReader(path, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var buffer = new char[1 << 16];
        var line = new StringBuilder();
        bool tooLong = false;
        int number = 0, read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            int start = 0;
            for (int i = 0; i < read; i++)
            {
                if (buffer[i] != '\n') continue;
                Append(buffer.AsSpan(start, i - start));
                yield return (++number, Finish());
                start = i + 1;
            }
            Append(buffer.AsSpan(start, read - start));
        }
        if (line.Length > 0 || tooLong) yield return (++number, Finish());

        void Append(ReadOnlySpan<char> part)
        {
            if (tooLong) return;
            if (line.Length + part.Length > maxChars + 1) // + 1: room for a '\r' before the '\n'
            {
                tooLong = true;
                line.Clear();
                return;
            }
            line.Append(part);
        }

        string? Finish()
        {
            if (line.Length > 0 && line[^1] == '\r') line.Length--;
            string? text = tooLong || line.Length > maxChars ? null : line.ToString();
            line.Clear();
            tooLong = false;
            return text;
        }
    }
}
