using System.Text;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// Turns a stream of ids into text, one id at a time. A character whose UTF-8 bytes are split across
/// tokens (CJK, emoji) is held back until it is complete and then comes out whole. Not thread-safe: one per stream.
/// </summary>
public abstract class StreamingDecoder
{
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly StringBuilder _text = new();
    private char[] _chars = new char[64];

    /// <summary>The text that <paramref name="id"/> completes; empty while a character is still incomplete.</summary>
    public string Append(int id)
    {
        _text.Clear();
        AppendTo(id, _text);
        return _text.ToString();
    }

    /// <summary>Appends the text that <paramref name="id"/> completes to <paramref name="output"/>.</summary>
    public abstract void AppendTo(int id, StringBuilder output);

    /// <summary>Whatever is still held back (an incomplete character becomes U+FFFD), and resets the decoder.</summary>
    public virtual string Flush()
    {
        _text.Clear();
        DecodeBytes([], _text, flush: true);
        return _text.ToString();
    }

    /// <summary>Decodes UTF-8 bytes, keeping an incomplete trailing sequence for the next call.</summary>
    protected void DecodeBytes(ReadOnlySpan<byte> bytes, StringBuilder output, bool flush = false)
    {
        int needed = _utf8.GetCharCount(bytes, flush: false) + 4;
        if (_chars.Length < needed) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int count = _utf8.GetChars(bytes, _chars, flush);
        output.Append(_chars, 0, count);
    }
}
