using System.Buffers;
using Gpt2Onnx.Runtime.Tokenizers.Contract;
using Microsoft.ML.Tokenizers;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// The Microsoft.ML.Tokenizers contract: code written against its <c>Tokenizer</c> takes this one unchanged.
/// As that library's tokenizers do, text that spells a special token encodes to the special token.
/// </summary>
public sealed partial class BpeTokenizer
{
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan,
                                                                  EncodeSettings settings)
    {
        ReadOnlySpan<char> rest = text is null ? textSpan : text.AsSpan();
        int length = rest.Length, at = 0;
        var tokens = new List<EncodedToken>();
        while (_special.Matcher.FindNext(rest, out int found, out int matched, out int id))
        {
            AddOrdinaryTokens(rest[..found], at, tokens);
            tokens.Add(new EncodedToken(id, _idToToken[id], new Range(at + found, at + found + matched)));
            at += found + matched;
            rest = rest[(found + matched)..];
        }
        AddOrdinaryTokens(rest, at, tokens);
        int consumed = TokenOffsets.Limit(tokens, settings.MaxTokenCount, length);
        return new EncodeResults<EncodedToken> { Tokens = tokens, CharsConsumed = consumed };
    }

    private void AddOrdinaryTokens(ReadOnlySpan<char> text, int shift, List<EncodedToken> tokens)
    {
        if (text.IsEmpty) return;
        var ids = new List<int>();
        EncodeOrdinary(text, ids);
        var (start, end) = TokenOffsets.OfBytes(text, shift);
        int b = 0;
        foreach (int id in ids)
        {
            int bytes = _idToBytes[id].Length;
            tokens.Add(new EncodedToken(id, _idToToken[id], new Range(start[b], end[b + bytes - 1])));
            b += bytes;
        }
    }

    /// <summary>Without a token limit, ids come from the fast path, with no offsets computed.</summary>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan,
                                                      EncodeSettings settings)
    {
        if (settings.MaxTokenCount != int.MaxValue) return base.EncodeToIds(text, textSpan, settings);
        ReadOnlySpan<char> span = text is null ? textSpan : text.AsSpan();
        var ids = new List<int>(span.Length / 3 + 4);
        Encode(span, ids, allowSpecialTokens: true);
        return new EncodeResults<int> { Tokens = ids, CharsConsumed = span.Length };
    }

    protected override int CountTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings) =>
        EncodeToIds(text, textSpan, settings).Tokens.Count;

    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Decode(ids as int[] ?? ids.ToArray());
    }

    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed,
                                           out int charsWritten) =>
        Utf8TokenDecoder.Decode(ids, BytesOf, destination, out idsConsumed, out charsWritten);
}
