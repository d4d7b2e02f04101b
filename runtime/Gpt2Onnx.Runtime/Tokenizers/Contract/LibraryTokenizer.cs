using System.Text;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers.Contract;

/// <summary>
/// Any Microsoft.ML.Tokenizers tokenizer (its TiktokenTokenizer, say) as the runtime's <see cref="ITokenizer"/>.
/// The model's config gives what the library's contract does not: the vocabulary size and the end-of-text id.
/// Special-token strings in a text are handled as the library tokenizer was configured to handle them.
/// </summary>
public sealed class LibraryTokenizer(Microsoft.ML.Tokenizers.Tokenizer tokenizer, int vocabSize, int endOfTextId)
    : ITokenizer
{
    public int VocabSize { get; } = vocabSize;
    public int EndOfTextId { get; } = endOfTextId;
    public Microsoft.ML.Tokenizers.Tokenizer Library { get; } = tokenizer;

    public void Encode(ReadOnlySpan<char> text, List<int> ids, bool allowSpecialTokens = false) =>
        ids.AddRange(Library.EncodeToIds(text));

    public string Decode(ReadOnlySpan<int> ids) => Library.Decode(ids.ToArray());

    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)VocabSize)
            throw new Gpt2OnnxException($"the token id {id} is outside the vocabulary (0..{VocabSize - 1}): " +
                                        "was it made with another tokenizer?");
        return Library.Decode([id]);
    }

    public StreamingDecoder CreateStreamingDecoder() => new PrefixStreamingDecoder(this);

    /// <summary>
    /// Decodes the whole stream so far at each id and hands out what is new, holding back a trailing U+FFFD, which
    /// may be a character whose remaining bytes are still to come. Quadratic in the stream's length, which a
    /// model's context bounds; the library's contract has no incremental decoding to do better.
    /// </summary>
    private sealed class PrefixStreamingDecoder(LibraryTokenizer tokenizer) : StreamingDecoder
    {
        private const int MaxHeldBack = 3; // a character's UTF-8 bytes beyond its first
        private readonly List<int> _ids = [];
        private int _emitted;

        public override void AppendTo(int id, StringBuilder output)
        {
            _ids.Add(id);
            string text = tokenizer.Library.Decode(_ids);
            int end = text.Length, held = 0;
            while (end > _emitted && text[end - 1] == '\uFFFD' && held < MaxHeldBack)
            {
                end--;
                held++;
            }
            if (end <= _emitted) return;
            output.Append(text, _emitted, end - _emitted);
            _emitted = end;
        }

        public override string Flush()
        {
            string text = tokenizer.Library.Decode(_ids);
            string rest = text.Length > _emitted ? text[_emitted..] : "";
            _ids.Clear();
            _emitted = 0;
            return rest;
        }
    }
}
