using System.Globalization;
using System.Text;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// BERT's basic tokenization, the step before WordPiece: drops control characters, splits on whitespace,
/// makes every CJK character and every punctuation character its own word, and optionally lower-cases
/// and strips accents.
/// </summary>
public sealed class BasicTokenizer(bool lowerCase, bool stripAccents)
{
    public bool LowerCase { get; } = lowerCase;
    public bool StripAccents { get; } = stripAccents;

    /// <summary>Appends the words of <paramref name="text"/> to <paramref name="words"/>.</summary>
    public void Split(ReadOnlySpan<char> text, List<string> words)
    {
        var word = new StringBuilder();
        void Flush()
        {
            if (word.Length == 0) return;
            string w = word.ToString();
            word.Clear();
            if (LowerCase) w = w.ToLowerInvariant();
            if (StripAccents) w = RemoveAccents(w);
            if (w.Length > 0) words.Add(w);
        }

        int i = 0;
        while (i < text.Length)
        {
            Rune.DecodeFromUtf16(text[i..], out Rune rune, out int width);
            i += width;
            int cp = rune.Value;
            if (cp == 0 || cp == 0xFFFD || IsControl(rune)) continue;
            if (Rune.IsWhiteSpace(rune))
            {
                Flush();
            }
            else if (IsCjk(cp) || IsPunctuation(rune))
            {
                Flush();
                words.Add(LowerCase || StripAccents ? Normalize(rune.ToString()) : rune.ToString());
            }
            else
            {
                word.Append(text.Slice(i - width, width));
            }
        }
        Flush();
    }

    private string Normalize(string w)
    {
        if (LowerCase) w = w.ToLowerInvariant();
        return StripAccents ? RemoveAccents(w) : w;
    }

    private static string RemoveAccents(string text)
    {
        string decomposed = text.Normalize(NormalizationForm.FormD);
        var result = new StringBuilder(decomposed.Length);
        foreach (char c in decomposed)
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
                result.Append(c);
        return result.ToString();
    }

    /// <summary>Control characters other than tab, newline and carriage return (which are whitespace).</summary>
    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r') return false;
        var category = Rune.GetUnicodeCategory(rune);
        return category is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    /// <summary>ASCII symbols count as punctuation (as in BERT), and so does every Unicode P* character.</summary>
    public static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>The CJK Unified Ideograph blocks (not Hiragana, Katakana or Hangul, which BERT treats as letters).</summary>
    public static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
