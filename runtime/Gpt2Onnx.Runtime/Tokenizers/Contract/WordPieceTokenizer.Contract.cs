using System.Buffers;
using System.Text;
using Gpt2Onnx.Runtime.Tokenizers.Contract;
using Microsoft.ML.Tokenizers;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// The Microsoft.ML.Tokenizers contract: code written against its <c>Tokenizer</c> takes this one unchanged.
/// Offsets are in the text as given. Where lower-casing or accent stripping changed a word's length, each of its
/// pieces covers the whole word; a bracketed special token in the text encodes to the special token.
/// </summary>
public sealed partial class WordPieceTokenizer
{
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan,
                                                                  EncodeSettings settings) =>
        ContractEncoding.Tokens(text, textSpan, settings, _special.Matcher, id => _tokens[id], AddOrdinaryTokens);

    private void AddOrdinaryTokens(ReadOnlySpan<char> text, int shift, List<EncodedToken> tokens)
    {
        var words = new List<string>();
        var ranges = new List<Range>();
        _basic.Split(text, words, ranges);
        var ids = new List<int>();
        var pieces = new List<Range>();
        for (int w = 0; w < words.Count; w++)
        {
            ids.Clear();
            pieces.Clear();
            EncodeWord(words[w], ids, pieces);
            int start = shift + ranges[w].Start.Value, end = shift + ranges[w].End.Value;
            bool sameLength = end - start == words[w].Length;
            for (int p = 0; p < ids.Count; p++)
            {
                var offset = sameLength ? new Range(start + pieces[p].Start.Value, start + pieces[p].End.Value)
                                        : new Range(start, end);
                tokens.Add(new EncodedToken(ids[p], _tokens[ids[p]], offset));
            }
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

    /// <summary>Writes whole tokens, each with the space the detokenizer puts before it, while they fit.</summary>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed,
                                           out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        idsConsumed = charsWritten = 0;
        var piece = new StringBuilder();
        string? previous = null;
        foreach (int id in ids)
        {
            string token = IdToToken(id);
            piece.Clear();
            AppendDetokenized(piece, previous, token);
            if (charsWritten + piece.Length > destination.Length) return OperationStatus.DestinationTooSmall;
            piece.CopyTo(0, destination[charsWritten..], piece.Length);
            charsWritten += piece.Length;
            idsConsumed++;
            previous = token;
        }
        return OperationStatus.Done;
    }
}
