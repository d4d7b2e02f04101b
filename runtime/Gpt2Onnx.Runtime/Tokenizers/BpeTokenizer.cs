using System.Buffers;
using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// GPT-2's byte-level BPE, read from a Hugging Face tokenizer folder (vocab.json + merges.txt).
/// Encoding: UTF-8 bytes → GPT-2 pieces (<see cref="Gpt2PreTokenizer"/>) → a direct vocabulary lookup of
/// the whole piece (most English words are one token) → otherwise a per-thread cache → otherwise BPE merges
/// by rank. Nothing is allocated per token: pieces live in stack buffers and the cache holds id arrays.
/// </summary>
public sealed partial class BpeTokenizer : Microsoft.ML.Tokenizers.Tokenizer, ITokenizer
{
    private const int MaxStackPiece = 256;
    private const int MaxScannedPiece = 64; // bytes; longer pieces merge through a priority queue
    // pieces of at most MaxScannedPiece bytes; about 25 MB per thread when full of words, 120 MB at most
    private const int CacheLimit = 1 << 18;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly string[] _idToToken;
    private readonly byte[][] _idToBytes;
    private readonly int[] _byteToId = new int[256];
    private readonly Dictionary<long, long> _merges; // (left << 32 | right) → (rank << 32 | merged id)
    private readonly SpecialTokens _special;
    private readonly ThreadLocal<Dictionary<string, int[]>> _cache;

    private BpeTokenizer(Dictionary<string, int> vocab, string[] idToToken, byte[][] idToBytes,
                         Dictionary<long, long> merges, IReadOnlyList<(string, string)> mergeList,
                         SpecialTokens special)
    {
        Merges = mergeList;
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _idToToken = idToToken;
        _idToBytes = idToBytes;
        _merges = merges;
        _special = special;
        for (int b = 0; b < 256; b++)
            _byteToId[b] = vocab[ByteLevelAlphabet.ByteToChar((byte)b).ToString()];
        _cache = new ThreadLocal<Dictionary<string, int[]>>(() => new Dictionary<string, int[]>());
    }

    public int VocabSize => _idToToken.Length;

    public int EndOfTextId => _special.EndOfTextId;

    /// <summary>The special tokens (text → id) that <c>allowSpecialTokens</c> recognises.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokenIds => _special.Ids;

    /// <summary>The merge rules in rank order, as merges.txt lists them.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }

    /// <summary>Loads vocab.json and merges.txt (and tokenizer_config.json when present) from <paramref
    /// name="directory"/>.</summary>
    public static BpeTokenizer Load(string directory)
    {
        string vocabPath = Path.Combine(directory, "vocab.json");
        string mergesPath = Path.Combine(directory, "merges.txt");
        var vocab = TokenizerFiles.ReadVocabJson(vocabPath);
        var mergeLines = TokenizerFiles.ReadMerges(mergesPath);
        var config = TokenizerFiles.ReadConfig(directory);
        return Create(vocab, mergeLines, config?.All, config?.EosToken, vocabPath, mergesPath);
    }

    /// <summary>GPT-2's tokenizer from a parsed tokenizer.json (<paramref name="path"/>) and the folder's
    /// tokenizer_config.json when present.</summary>
    public static BpeTokenizer FromTokenizerJson(JsonElement root, string directory, string path)
    {
        var (vocab, merges, special) = TokenizerFiles.ReadBpeTokenizerJson(root, path);
        var config = TokenizerFiles.ReadConfig(directory);
        return Create(vocab, merges, special.Concat(config?.All ?? []).Distinct(), config?.EosToken, path, path);
    }

    /// <summary>Builds a tokenizer from a vocabulary and merges in file order; checks that they fit together.</summary>
    public static BpeTokenizer Create(Dictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
                                      IEnumerable<string>? specialTokens = null, string? endOfText = null,
                                      string vocabSource = "vocab.json", string mergesSource = "merges.txt")
    {
        int size = 0;
        foreach (var id in vocab.Values)
        {
            if (id < 0) throw new Gpt2OnnxException($"{vocabSource}: the id {id} is negative; ids must be 0..N-1: " +
                                                    "regenerate the vocabulary");
            size = Math.Max(size, id + 1);
        }
        var idToToken = new string[size];
        var idToBytes = new byte[size][];
        foreach (var (token, id) in vocab)
        {
            if (idToToken[id] != null)
                throw new Gpt2OnnxException($"{vocabSource}: the id {id} is given to both '{idToToken[id]}' and " +
                                            $"'{token}': regenerate the vocabulary");
            idToToken[id] = token;
        }
        for (int id = 0; id < size; id++)
            if (idToToken[id] == null)
                throw new Gpt2OnnxException($"{vocabSource}: no token has the id {id} (ids must be 0..{size - 1} " +
                                            "without gaps): regenerate the vocabulary");

        var special = new SpecialTokens(vocab, specialTokens, endOfText, vocabSource);
        for (int id = 0; id < size; id++)
        {
            string token = idToToken[id];
            byte[]? bytes = special.Ids.ContainsKey(token)
                ? Encoding.UTF8.GetBytes(token) : ByteLevelAlphabet.ToBytes(token);
            idToBytes[id] = bytes ?? throw new Gpt2OnnxException(
                $"{vocabSource}: the token '{token}' (id {id}) has characters outside GPT-2's byte-level alphabet: " +
                "is this a byte-level BPE vocabulary?");
        }
        for (int b = 0; b < 256; b++)
            if (!vocab.ContainsKey(ByteLevelAlphabet.ByteToChar((byte)b).ToString()))
                throw new Gpt2OnnxException($"{vocabSource}: the vocabulary lacks the token for byte 0x{b:X2}, so " +
                                            "some text could not be encoded: regenerate the vocabulary");

        // Without merges every token of several bytes is out of reach and text encodes byte by byte: an empty or
        // lost merges.txt, which would otherwise load and give ids the model was never trained on.
        int madeByMerges = idToBytes.Where((bytes, id) => bytes.Length > 1 && !special.Ids.ContainsKey(idToToken[id]))
                                    .Count();
        if (merges.Count == 0 && madeByMerges > 0)
            throw new Gpt2OnnxException($"{mergesSource} holds no merges, but {vocabSource} has {madeByMerges} " +
                                        "tokens of several bytes that only merges make: the file is empty or cut; " +
                                        "put the tokenizer's own back");
        var mergeTable = new Dictionary<long, long>(merges.Count, PairKey.Comparer);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            int line = rank + 2; // merges.txt lines are 1-based, after the "#version" header
            if (!vocab.TryGetValue(left, out int leftId) || !vocab.TryGetValue(right, out int rightId))
                throw new Gpt2OnnxException($"{mergesSource}:{line}: the merge '{left} {right}' names a symbol that " +
                                            "is not in the vocabulary: the two files do not belong together");
            if (!vocab.TryGetValue(left + right, out int mergedId))
                throw new Gpt2OnnxException($"{mergesSource}:{line}: the merge '{left} {right}' makes " +
                                            $"'{left + right}', which is not in the vocabulary: the two files do not " +
                                            "belong together");
            // the first rule for a pair wins
            mergeTable.TryAdd(PairKey.Of(leftId, rightId), ((long)rank << 32) | (uint)mergedId);
        }
        return new BpeTokenizer(vocab, idToToken, idToBytes, mergeTable, merges.ToArray(), special);
    }

    /// <summary>Writes vocab.json and merges.txt (each atomically) into <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, "vocab.json"), stream =>
        {
            using var writer = new System.Text.Json.Utf8JsonWriter(stream,
                new System.Text.Json.JsonWriterOptions { Indented = false });
            writer.WriteStartObject();
            for (int id = 0; id < _idToToken.Length; id++) writer.WriteNumber(_idToToken[id], id);
            writer.WriteEndObject();
        });
        TokenizerFiles.WriteTextAtomically(Path.Combine(directory, "merges.txt"), writer =>
        {
            writer.WriteLine("#version: 0.2");
            foreach (var (left, right) in Merges) writer.WriteLine($"{left} {right}");
        });
    }

    public void Encode(ReadOnlySpan<char> text, List<int> ids, bool allowSpecialTokens = false)
    {
        if (allowSpecialTokens) _special.Matcher.Encode(text, ids, EncodeOrdinary);
        else EncodeOrdinary(text, ids);
    }

    private void EncodeOrdinary(ReadOnlySpan<char> text, List<int> ids)
    {
        if (text.IsEmpty) return;
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[] rented = ArrayPool<byte>.Shared.Rent(max);
        try
        {
            int count = Encoding.UTF8.GetBytes(text, rented);
            EncodeUtf8(rented.AsSpan(0, count), ids);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Appends the ids of raw bytes. Valid UTF-8 gives the same ids as the text it spells; any other byte
    /// string is encoded too, so that decoding returns exactly these bytes.
    /// </summary>
    public void EncodeUtf8(ReadOnlySpan<byte> utf8, List<int> ids)
    {
        var cache = _cache.Value!;
        var cacheBySpan = cache.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> stackChars = stackalloc char[MaxStackPiece];
        int position = 0;
        while (position < utf8.Length)
        {
            int end = Gpt2PreTokenizer.NextPieceEnd(utf8, position);
            ReadOnlySpan<byte> piece = utf8[position..end];
            position = end;

            char[]? rentedChars = null;
            Span<char> chars = piece.Length <= MaxStackPiece
                ? stackChars[..piece.Length]
                : (rentedChars = ArrayPool<char>.Shared.Rent(piece.Length)).AsSpan(0, piece.Length);
            try
            {
                ByteLevelAlphabet.Map(piece, chars);
                if (_vocabBySpan.TryGetValue(chars, out int single))
                {
                    ids.Add(single);
                }
                else if (cacheBySpan.TryGetValue(chars, out int[]? cached))
                {
                    ids.AddRange(cached);
                }
                else
                {
                    int[] merged = MergePiece(piece);
                    // bounded memory: a full cache stops growing, and long pieces (rarely repeated) stay out
                    if (cache.Count < CacheLimit && piece.Length <= MaxScannedPiece) cache[new string(chars)] = merged;

                    ids.AddRange(merged);
                }
            }
            finally
            {
                if (rentedChars != null) ArrayPool<char>.Shared.Return(rentedChars);
            }
        }
    }

    /// <summary>
    /// Applies merges to one piece, lowest rank first (the leftmost of equal ranks). Short pieces, nearly
    /// all of them, scan for the next merge; long ones take it from a priority queue, so a hostile piece
    /// (a 200,000-letter word, a megabyte of spaces) costs n log n, not n².
    /// </summary>
    private int[] MergePiece(ReadOnlySpan<byte> piece) =>
        piece.Length <= MaxScannedPiece ? MergeByScan(piece) : MergeByQueue(piece);

    /// <summary><c>ranks[i]</c> caches the rank of the pair (parts[i], parts[i+1]), so each merge costs a scan of ints
    /// and two lookups.</summary>
    internal int[] MergeByScan(ReadOnlySpan<byte> piece)
    {
        int n = piece.Length;
        int[] parts = ArrayPool<int>.Shared.Rent(n);
        long[] ranks = ArrayPool<long>.Shared.Rent(n);
        try
        {
            for (int i = 0; i < n; i++) parts[i] = _byteToId[piece[i]];
            for (int i = 0; i + 1 < n; i++) ranks[i] = PairRank(parts[i], parts[i + 1]);
            while (n > 1)
            {
                int best = -1;
                long bestRank = long.MaxValue;
                for (int i = 0; i + 1 < n; i++)
                {
                    if (ranks[i] < bestRank)
                    {
                        bestRank = ranks[i];
                        best = i;
                    }
                }
                if (best < 0) break;
                parts[best] = MergedId(bestRank);
                Array.Copy(parts, best + 2, parts, best + 1, n - best - 2);
                Array.Copy(ranks, best + 2, ranks, best + 1, n - best - 2);
                n--;
                if (best > 0) ranks[best - 1] = PairRank(parts[best - 1], parts[best]);
                ranks[best] = best + 1 < n ? PairRank(parts[best], parts[best + 1]) : long.MaxValue;
            }
            return parts.AsSpan(0, n).ToArray();
        }
        finally
        {
            ArrayPool<int>.Shared.Return(parts);
            ArrayPool<long>.Shared.Return(ranks);
        }
    }

    /// <summary>
    /// The parts form a linked list over the piece's byte positions; the queue holds (rank, position) of
    /// every pair, and an entry whose pair has since changed is skipped when it comes out (a pair's span
    /// only grows, so its rank tells whether it is still the same pair).
    /// </summary>
    internal int[] MergeByQueue(ReadOnlySpan<byte> piece)
    {
        int n = piece.Length;
        int[] parts = ArrayPool<int>.Shared.Rent(n);
        int[] next = ArrayPool<int>.Shared.Rent(n);
        int[] previous = ArrayPool<int>.Shared.Rent(n);
        long[] ranks = ArrayPool<long>.Shared.Rent(n);
        var queue = new PriorityQueue<int, long>(n);
        try
        {
            for (int i = 0; i < n; i++)
            {
                parts[i] = _byteToId[piece[i]];
                next[i] = i + 1;
                previous[i] = i - 1;
            }
            void Rank(int at)
            {
                ranks[at] = next[at] < n ? PairRank(parts[at], parts[next[at]]) : long.MaxValue;
                if (ranks[at] != long.MaxValue) queue.Enqueue(at, (ranks[at] >> 32 << 32) | (uint)at);
            }
            for (int i = 0; i < n; i++) Rank(i);
            int count = n;
            while (queue.TryDequeue(out int at, out long key))
            {
                // merged away, or a different pair now
                if (ranks[at] == long.MaxValue || ranks[at] >> 32 != key >> 32) continue;
                int right = next[at];
                parts[at] = MergedId(ranks[at]);
                ranks[right] = long.MaxValue;
                next[at] = next[right];
                if (next[at] < n) previous[next[at]] = at;
                count--;
                Rank(at);
                if (previous[at] >= 0) Rank(previous[at]);
            }
            var result = new int[count];
            for (int i = 0, at = 0; at < n; at = next[at]) result[i++] = parts[at];
            return result;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(parts);
            ArrayPool<int>.Shared.Return(next);
            ArrayPool<int>.Shared.Return(previous);
            ArrayPool<long>.Shared.Return(ranks);
        }
    }

    private static int MergedId(long rank) => (int)(rank & 0xFFFFFFFF);

    /// <summary>(rank << 32 | merged id) of a pair, or long.MaxValue when no merge joins it.</summary>
    private long PairRank(int left, int right) =>
        _merges.TryGetValue(PairKey.Of(left, right), out long value) ? value : long.MaxValue;

    public string Decode(ReadOnlySpan<int> ids)
    {
        byte[] bytes = DecodeBytes(ids);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Exactly the bytes the ids stand for.</summary>
    public byte[] DecodeBytes(ReadOnlySpan<int> ids)
    {
        int total = 0;
        foreach (int id in ids) total += BytesOf(id).Length;
        var result = new byte[total];
        int offset = 0;
        foreach (int id in ids)
        {
            var bytes = BytesOf(id);
            bytes.CopyTo(result, offset);
            offset += bytes.Length;
        }
        return result;
    }

    /// <summary>The bytes of one token; throws a clear error for an id outside the vocabulary.</summary>
    public byte[] BytesOf(int id)
    {
        if ((uint)id >= (uint)_idToBytes.Length)
            throw new Gpt2OnnxException($"the token id {id} is outside the vocabulary (0..{_idToBytes.Length - 1}): " +
                                        "was it made with another tokenizer?");
        return _idToBytes[id];
    }

    public string IdToToken(int id)
    {
        BytesOf(id); // range check with the common message
        return _idToToken[id];
    }

    /// <summary>The id of a token spelled as in vocab.json, or null.</summary>
    public int? TokenToId(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    public StreamingDecoder CreateStreamingDecoder() => new ByteStreamingDecoder(this);

    private sealed class ByteStreamingDecoder(BpeTokenizer tokenizer) : StreamingDecoder
    {
        public override void AppendTo(int id, StringBuilder output) => DecodeBytes(tokenizer.BytesOf(id), output);
    }
}
