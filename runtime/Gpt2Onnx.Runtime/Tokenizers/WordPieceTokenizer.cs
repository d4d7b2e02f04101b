using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// BERT-style WordPiece (vocab.txt): basic tokenization, then greedy longest-match-first with "##" marking
/// a piece that continues a word. With a vocabulary of single characters it is a character-level
/// tokenizer, which is how the Chinese GPT-2 tutorials tokenize poetry.
/// </summary>
public sealed partial class WordPieceTokenizer : Microsoft.ML.Tokenizers.Tokenizer, ITokenizer
{
    public const string Continuation = "##";
    public const int MaxWordChars = 100; // characters (code points); longer words become [UNK], as in BERT
    public static readonly string[] DefaultSpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

    private readonly string[] _tokens;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idsBySpan;
    private readonly BasicTokenizer _basic;
    private readonly SpecialWordPieces _special;

    /// <summary>A WordPiece tokenizer over <paramref name="tokens"/>; <paramref name="basic"/> (by default: cased, CJK
    /// split) splits text into words.</summary>
    public WordPieceTokenizer(IReadOnlyList<string> tokens, BasicTokenizer? basic = null,
                              string? unknownToken = null, string? endOfTextToken = null, string source = "vocab.txt")
    {
        _tokens = tokens.ToArray();
        _ids = new Dictionary<string, int>(_tokens.Length);
        for (int i = 0; i < _tokens.Length; i++)
            if (!_ids.TryAdd(_tokens[i], i))
                throw new Gpt2OnnxException($"{source}: the token '{_tokens[i]}' appears twice: regenerate the " +
                                            "vocabulary");
        _idsBySpan = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _basic = basic ?? new BasicTokenizer();
        _special = new SpecialWordPieces(_ids, unknownToken ?? "[UNK]", endOfTextToken ?? "[SEP]", source);
    }

    /// <summary>
    /// Loads vocab.txt, and tokenizer_config.json when present (do_lower_case, strip_accents,
    /// tokenize_chinese_chars, unk_token, eos_token), with Hugging Face's BertTokenizer defaults for what it
    /// does not say, or holds no such file: lower-cased, accents stripped, CJK split.
    /// </summary>
    public static WordPieceTokenizer Load(string directory)
    {
        string path = Path.Combine(directory, "vocab.txt");
        var tokens = TokenizerFiles.ReadVocabTxt(path);
        var config = TokenizerFiles.ReadConfig(directory);
        return new WordPieceTokenizer(tokens, Basic(config, lowerCase: true, stripAccents: null, splitCjk: true),
                                      config?.UnkToken, config?.EosToken, path);
    }

    /// <summary>
    /// BERT's WordPiece from a parsed tokenizer.json (<paramref name="path"/>), as transformers 5 saves it without a
    /// vocab.txt: the normalizer's settings, changed by those tokenizer_config.json gives (do_lower_case,
    /// strip_accents, tokenize_chinese_chars), as transformers applies them; its eos_token, else [SEP].
    /// </summary>
    public static WordPieceTokenizer FromTokenizerJson(JsonElement root, string directory, string path)
    {
        var (tokens, unknown, lowerCase, stripAccents, splitCjk) =
            TokenizerFiles.ReadWordPieceTokenizerJson(root, path);
        var config = TokenizerFiles.ReadConfig(directory);
        return new WordPieceTokenizer(tokens, Basic(config, lowerCase, stripAccents, splitCjk),
                                      config?.UnkToken ?? unknown, config?.EosToken, path);
    }

    /// <summary>The text settings tokenizer_config.json gives, and where it gives none, these.</summary>
    private static BasicTokenizer Basic(TokenizerConfig? config, bool lowerCase, bool? stripAccents, bool splitCjk) =>
        new(config?.DoLowerCase ?? lowerCase, config?.StripAccents ?? stripAccents,
            config?.TokenizeChineseChars ?? splitCjk);

    public int VocabSize => _tokens.Length;
    public int EndOfTextId => _special.EndOfTextId;
    public int UnknownId => _special.UnknownId;
    public IReadOnlyList<string> Tokens => _tokens;
    public bool LowerCase => _basic.LowerCase;
    /// <summary>Whether accents are stripped (after NFD), and whether CJK ideographs are split one per word.</summary>
    public bool StripAccents => _basic.StripAccents;
    public bool SplitCjk => _basic.SplitCjk;

    public void Encode(ReadOnlySpan<char> text, List<int> ids, bool allowSpecialTokens = false)
    {
        if (allowSpecialTokens) _special.Matcher.Encode(text, ids, EncodeOrdinary);
        else EncodeOrdinary(text, ids);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids)
    {
        var words = new List<string>();
        _basic.Split(text, words);
        foreach (var word in words) EncodeWord(word, ids);
    }

    /// <summary>
    /// Appends the word's pieces, and when <paramref name="pieces"/> is given, where each stands in the word
    /// (the whole word for [UNK]).
    /// </summary>
    private void EncodeWord(string word, List<int> ids, List<Range>? pieces = null)
    {
        if (word.Length > MaxWordChars && word.EnumerateRunes().Count() > MaxWordChars)
        {
            AddUnknown(word, ids, pieces);
            return;
        }
        int first = ids.Count, firstPiece = pieces?.Count ?? 0;
        Span<char> candidate = stackalloc char[2 * MaxWordChars + Continuation.Length];
        int start = 0;
        while (start < word.Length)
        {
            int prefix = 0;
            if (start > 0)
            {
                Continuation.AsSpan().CopyTo(candidate);
                prefix = Continuation.Length;
            }
            int end = word.Length;
            int found = -1;
            while (end > start)
            {
                word.AsSpan(start, end - start).CopyTo(candidate[prefix..]);
                if (_idsBySpan.TryGetValue(candidate[..(prefix + end - start)], out found)) break;
                end--;
                if (end > start && char.IsLowSurrogate(word[end])) end--; // never split a surrogate pair
            }
            if (end == start)
            {
                ids.RemoveRange(first, ids.Count - first);
                pieces?.RemoveRange(firstPiece, pieces.Count - firstPiece);
                AddUnknown(word, ids, pieces);
                return;
            }
            ids.Add(found);
            pieces?.Add(new Range(start, end));
            start = end;
        }
    }

    private void AddUnknown(string word, List<int> ids, List<Range>? pieces)
    {
        ids.Add(UnknownId);
        pieces?.Add(new Range(0, word.Length));
    }

    public string Decode(ReadOnlySpan<int> ids)
    {
        var text = new StringBuilder();
        string? previous = null;
        foreach (int id in ids)
        {
            string token = IdToToken(id);
            AppendDetokenized(text, previous, token);
            previous = token;
        }
        return text.ToString();
    }

    /// <summary>
    /// Joins tokens as text is written: "##" pieces attach to the word before them; no space next to a
    /// CJK character or before punctuation; otherwise words are separated by one space.
    /// </summary>
    internal static void AppendDetokenized(StringBuilder text, string? previous, string token)
    {
        if (token.StartsWith(Continuation, StringComparison.Ordinal) && token.Length > Continuation.Length)
        {
            text.Append(token, Continuation.Length, token.Length - Continuation.Length);
            return;
        }
        if (previous != null && NeedsSpace(previous, token)) text.Append(' ');
        text.Append(token);
    }

    private static bool NeedsSpace(string previous, string next)
    {
        Rune.DecodeLastFromUtf16(previous, out Rune last, out _);
        Rune.DecodeFromUtf16(next, out Rune first, out _);
        if (BasicTokenizer.IsCjk(last.Value) || BasicTokenizer.IsCjk(first.Value)) return false;
        if (BasicTokenizer.IsPunctuation(first) && next.Length == first.Utf16SequenceLength) return false;
        if (previous.Length == last.Utf16SequenceLength && BasicTokenizer.IsPunctuation(last)
            && last.Value is '(' or '[' or '{' or '"' or '\'' or '“' or '‘' or '「' or '『' or '《' or '（')
            return false;
        return true;
    }

    public string IdToToken(int id)
    {
        if ((uint)id >= (uint)_tokens.Length)
            throw new Gpt2OnnxException($"the token id {id} is outside the vocabulary (0..{_tokens.Length - 1}): was " +
                                        "it made with another tokenizer?");
        return _tokens[id];
    }

    public int? TokenToId(string token) => _ids.TryGetValue(token, out int id) ? id : null;

    public StreamingDecoder CreateStreamingDecoder() => new TokenStreamingDecoder(this);

    /// <summary>Whole tokens are whole characters, so each id's text comes out at once.</summary>
    private sealed class TokenStreamingDecoder(WordPieceTokenizer tokenizer) : StreamingDecoder
    {
        private string? _previous;

        public override void AppendTo(int id, StringBuilder output)
        {
            string token = tokenizer.IdToToken(id);
            AppendDetokenized(output, _previous, token);
            _previous = token;
        }
    }

    /// <summary>The unknown and end-of-text ids, and every bracketed "[...]" token as a special token.</summary>
    private sealed class SpecialWordPieces
    {
        public SpecialWordPieces(Dictionary<string, int> ids, string unknown, string endOfText, string source)
        {
            if (!ids.TryGetValue(unknown, out int unknownId))
                throw new Gpt2OnnxException($"{source}: the vocabulary has no unknown token '{unknown}': add it, or " +
                                            "name one as unk_token in tokenizer_config.json");
            if (!ids.TryGetValue(endOfText, out int endId))
                throw new Gpt2OnnxException($"{source}: the vocabulary has no end-of-text token '{endOfText}': add " +
                                            "it, or name one as eos_token in tokenizer_config.json");
            UnknownId = unknownId;
            EndOfTextId = endId;
            Matcher = new SpecialTokenMatcher(ids.Where(p => p.Key.Length > 2 && p.Key[0] == '[' && p.Key[^1] == ']'));
        }

        public int UnknownId { get; }
        public int EndOfTextId { get; }
        public SpecialTokenMatcher Matcher { get; }
    }
}
