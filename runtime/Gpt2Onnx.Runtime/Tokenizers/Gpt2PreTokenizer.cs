using System.Text;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// Splits UTF-8 text into the pieces GPT-2's tokenizer merges separately, exactly as its pattern
/// <c>'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> does, but on Unicode
/// scalar values rather than UTF-16 units (so letters and digits outside the BMP count as letters and
/// digits) and without a regex engine (faster: docs/performance.md). Bytes that are not valid UTF-8 count as
/// "other" characters, which lets any byte string round-trip.
/// </summary>
public static class Gpt2PreTokenizer
{
    private enum Kind : byte { Letter, Number, Space, Other }

    private static readonly Kind[] AsciiKinds = BuildAsciiKinds();

    /// <summary>The end (exclusive) of the piece that starts at <paramref name="start"/>.</summary>
    public static int NextPieceEnd(ReadOnlySpan<byte> text, int start)
    {
        byte first = text[start];
        if (first == (byte)'\'' && start + 1 < text.Length)
        {
            int contraction = ContractionLength(text, start + 1);
            if (contraction > 0) return start + 1 + contraction;
        }

        Kind kind = KindAt(text, start, out int width);
        int afterSpace = start;
        if (first == (byte)' ' && start + 1 < text.Length)
        {
            Kind next = KindAt(text, start + 1, out int nextWidth);
            if (next != Kind.Space)
            {
                kind = next;
                afterSpace = start + 1;
                width = nextWidth;
            }
        }

        if (kind != Kind.Space)
        {
            // ` ?\p{L}+`, ` ?\p{N}+` or ` ?[^\s\p{L}\p{N}]+`: a run of one kind.
            int end = afterSpace + width;
            while (end < text.Length && KindAt(text, end, out int w) == kind) end += w;
            return end;
        }

        // A run of whitespace: `\s+(?!\S)` keeps its last character for the piece that follows it,
        // unless the run ends the text or is one character long (then `\s+` takes it whole).
        int runEnd = start + width;
        int lastStart = start;
        while (runEnd < text.Length && KindAt(text, runEnd, out int w) == Kind.Space)
        {
            lastStart = runEnd;
            runEnd += w;
        }
        if (runEnd == text.Length || lastStart == start) return runEnd;
        return lastStart;
    }

    private static int ContractionLength(ReadOnlySpan<byte> text, int at)
    {
        byte c = text[at];
        if (c is (byte)'s' or (byte)'d' or (byte)'m' or (byte)'t') return 1;
        if (at + 1 < text.Length)
        {
            byte d = text[at + 1];
            if ((c == 'l' && d == 'l') || (c == 'v' && d == 'e') || (c == 'r' && d == 'e')) return 2;
        }
        return 0;
    }

    private static Kind KindAt(ReadOnlySpan<byte> text, int at, out int width)
    {
        byte b = text[at];
        if (b < 0x80)
        {
            width = 1;
            return AsciiKinds[b];
        }
        if (Rune.DecodeFromUtf8(text[at..], out Rune rune, out width) != System.Buffers.OperationStatus.Done)
            return Kind.Other; // an invalid or truncated sequence: its bytes stand as "other"
        return Classify(rune);
    }

    private static Kind Classify(Rune rune)
    {
        if (Rune.IsWhiteSpace(rune)) return Kind.Space;
        if (Rune.IsLetter(rune)) return Kind.Letter;
        if (Rune.IsNumber(rune)) return Kind.Number;
        return Kind.Other;
    }

    private static Kind[] BuildAsciiKinds()
    {
        var kinds = new Kind[128];
        for (int c = 0; c < 128; c++) kinds[c] = Classify(new Rune(c));
        return kinds;
    }
}
