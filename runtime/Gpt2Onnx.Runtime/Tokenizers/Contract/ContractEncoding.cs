using Microsoft.ML.Tokenizers;

namespace Gpt2Onnx.Runtime.Tokenizers.Contract;

/// <summary>What both of our tokenizers do the same way to meet Microsoft.ML.Tokenizers' encoding contract.</summary>
internal static class ContractEncoding
{
    /// <summary>Appends the tokens of special-token-free text that starts at <paramref name="shift"/>.</summary>
    public delegate void OrdinaryTokens(ReadOnlySpan<char> text, int shift, List<EncodedToken> tokens);

    /// <summary>
    /// Tokens with offsets: special tokens found by <paramref name="matcher"/>, the text between them through
    /// <paramref name="ordinary"/>, cut to the settings' token limit.
    /// </summary>
    public static EncodeResults<EncodedToken> Tokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings,
                                                     SpecialTokenMatcher matcher, Func<int, string> spelling,
                                                     OrdinaryTokens ordinary)
    {
        ReadOnlySpan<char> rest = text is null ? textSpan : text.AsSpan();
        int length = rest.Length, at = 0;
        var tokens = new List<EncodedToken>();
        while (matcher.FindNext(rest, out int found, out int matched, out int id))
        {
            ordinary(rest[..found], at, tokens);
            tokens.Add(new EncodedToken(id, spelling(id), new Range(at + found, at + found + matched)));
            at += found + matched;
            rest = rest[(found + matched)..];
        }
        ordinary(rest, at, tokens);
        int consumed = TokenOffsets.Limit(tokens, settings.MaxTokenCount, length);
        return new EncodeResults<EncodedToken> { Tokens = tokens, CharsConsumed = consumed };
    }

    /// <summary>Ids from our own encoder (special tokens allowed), with no offsets computed.</summary>
    public static EncodeResults<int> Ids(string? text, ReadOnlySpan<char> textSpan, ITokenizer tokenizer)
    {
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        var ids = new List<int>(span.Length / 3 + 4);
        tokenizer.Encode(span, ids, allowSpecialTokens: true);
        return new EncodeResults<int> { Tokens = ids, CharsConsumed = span.Length };
    }
}
