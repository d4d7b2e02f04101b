using System.Text;
using Microsoft.ML.Tokenizers;

namespace Gpt2Onnx.Runtime.Tokenizers.Contract;

/// <summary>
/// Character ranges for tokens made from UTF-8 bytes, in Microsoft.ML.Tokenizers' convention (its
/// TiktokenTokenizer's): a token covers every UTF-16 unit of each character its bytes touch, so the two tokens
/// of a split character both cover the whole character.
/// </summary>
internal static class TokenOffsets
{
    /// <summary>
    /// For each UTF-8 byte of <paramref name="text"/> (as Encoding.UTF8 writes it, a lone surrogate as U+FFFD),
    /// where its character starts and ends in the text, shifted by <paramref name="shift"/>.
    /// </summary>
    public static (int[] Start, int[] End) OfBytes(ReadOnlySpan<char> text, int shift)
    {
        int bytes = Encoding.UTF8.GetByteCount(text);
        var start = new int[bytes];
        var end = new int[bytes];
        int b = 0;
        for (int i = 0; i < text.Length;)
        {
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int width);
            for (int k = 0; k < rune.Utf8SequenceLength; k++, b++)
            {
                start[b] = shift + i;
                end[b] = shift + i + width;
            }
            i += width;
        }
        return (start, end);
    }

    /// <summary>
    /// Keeps at most <paramref name="max"/> tokens, never a token that shares a character with one dropped, and
    /// returns how many characters the kept ones consume.
    /// </summary>
    public static int Limit(List<EncodedToken> tokens, int max, int textLength)
    {
        if (tokens.Count <= max) return textLength;
        int keep = max;
        while (keep > 0 && tokens[keep - 1].Offset.End.Value > tokens[keep].Offset.Start.Value) keep--;
        tokens.RemoveRange(keep, tokens.Count - keep);
        return keep == 0 ? 0 : tokens[keep - 1].Offset.End.Value;
    }
}
