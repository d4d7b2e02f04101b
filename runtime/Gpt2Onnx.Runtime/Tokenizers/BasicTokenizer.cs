using System.Globalization;
using System.Text;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// BERT's basic tokenization, the step before WordPiece, as Hugging Face's BertNormalizer and
/// BertPreTokenizer define it: drops NUL, U+FFFD and every control, format and private-use character but
/// tab, newline and carriage return; splits on whitespace; makes every CJK ideograph (when <paramref name="splitCjk"/>)
/// and every punctuation character its own word; optionally lower-cases (full case mapping) and strips accents (NFD,
/// then no nonspacing marks). <paramref name="stripAccents"/> null follows <paramref name="lowerCase"/>, as
/// tokenizer_config.json's strip_accents does.
/// </summary>
public sealed class BasicTokenizer(bool lowerCase = false, bool? stripAccents = null, bool splitCjk = true)
{
    public bool LowerCase { get; } = lowerCase;
    public bool StripAccents { get; } = stripAccents ?? lowerCase;
    public bool SplitCjk { get; } = splitCjk;

    /// <summary>
    /// Appends the words of <paramref name="text"/> to <paramref name="words"/>, and when
    /// <paramref name="ranges"/> is given, where each word stands in the text (from its first character kept to its
    /// last).
    /// </summary>
    public void Split(ReadOnlySpan<char> text, List<string> words, List<Range>? ranges = null)
    {
        var word = new StringBuilder();
        int wordStart = 0, wordEnd = 0;
        void Add(string w, int start, int end)
        {
            if (w.Length == 0) return;
            words.Add(w);
            ranges?.Add(new Range(start, end));
        }
        void Flush()
        {
            if (word.Length == 0) return;
            Add(Normalize(word.ToString()), wordStart, wordEnd);
            word.Clear();
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
            else if (SplitCjk && IsCjk(cp) || IsPunctuation(rune))
            {
                Flush();
                Add(Normalize(rune.ToString()), i - width, i);
            }
            else
            {
                if (word.Length == 0) wordStart = i - width;
                word.Append(text.Slice(i - width, width));
                wordEnd = i;
            }
        }
        Flush();
    }

    private string Normalize(string w)
    {
        if (LowerCase) w = ToLower(w);
        return StripAccents ? RemoveAccents(w) : w;
    }

    /// <summary>
    /// Unicode's full lower-case mapping without context: .NET's simple mapping, except that U+0130 (İ)
    /// becomes "i" and a combining dot above (U+0307), its only unconditional mapping to two characters.
    /// </summary>
    private static string ToLower(string text) =>
        text.Replace("\u0130", "i\u0307", StringComparison.Ordinal).ToLowerInvariant();

    private static string RemoveAccents(string text)
    {
        string decomposed = text.Normalize(NormalizationForm.FormD);
        var result = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark)
                result.Append(rune);
        return result.ToString();
    }

    /// <summary>
    /// What BERT drops: control, format, private-use and surrogate characters, except tab, newline and
    /// carriage return, which are whitespace. Unassigned code points are kept, so a word holding one is
    /// [UNK]: the Rust tokenizers library keeps them (its category tables list no unassigned code point),
    /// and its ids are what Hugging Face users get; BERT's original Python code dropped them.
    /// </summary>
    private static bool IsControl(Rune rune)
    {
        if (rune.Value is '\t' or '\n' or '\r') return false;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.PrivateUse or UnicodeCategory.Surrogate;
    }

    /// <summary>ASCII symbols count as punctuation (as in BERT), and so does every Unicode P* character.</summary>
    public static bool IsPunctuation(Rune rune)
    {
        int cp = rune.Value;
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
                or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    /// <summary>The CJK Unified Ideograph blocks (not Hiragana, Katakana or Hangul, which BERT treats as
    /// letters).</summary>
    public static bool IsCjk(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
