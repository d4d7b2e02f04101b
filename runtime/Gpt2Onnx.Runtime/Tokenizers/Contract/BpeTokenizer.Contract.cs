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
                                                                  EncodeSettings settings) =>
        ContractEncoding.Tokens(text, textSpan, settings, _special.Matcher, id => _idToToken[id], AddOrdinaryTokens);

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
                                                      EncodeSettings settings) =>
        settings.MaxTokenCount == int.MaxValue
            ? ContractEncoding.Ids(text, textSpan, this)
            : base.EncodeToIds(text, textSpan, settings);

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
