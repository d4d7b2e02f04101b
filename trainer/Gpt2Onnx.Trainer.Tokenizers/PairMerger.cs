using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Tokenizers;

/// <summary>
/// The learning loop shared by the BPE and WordPiece trainers: words are sequences of symbols with a
/// frequency; repeatedly the most frequent adjacent pair becomes a new symbol. Ties go to the pair whose
/// spelling sorts first (ordinal), so a vocabulary depends on the corpus alone. A max-heap with lazy
/// deletion and an index of the words that hold each pair keep every step proportional to the words it changes.
/// </summary>
internal sealed class PairMerger
{
    private readonly List<string> _symbols;
    private readonly int[][] _words;
    private readonly long[] _counts;
    private readonly Func<string, string, string> _join;
    private readonly Dictionary<long, long> _pairCounts = new(PairKey.Comparer);
    private readonly Dictionary<long, HashSet<int>> _pairWords = new(PairKey.Comparer);
    private readonly PriorityQueue<long, (long Count, int Left, int Right)> _heap;

    /// <param name="symbols">the initial alphabet; new symbols are appended</param>
    /// <param name="words">each distinct word as symbol indices, with its frequency</param>
    /// <param name="join">the spelling of a merged pair</param>
    public PairMerger(List<string> symbols, IReadOnlyList<(int[] Symbols, long Count)> words,
                      Func<string, string, string> join)
    {
        _symbols = symbols;
        _words = words.Select(w => w.Symbols).ToArray();
        _counts = words.Select(w => w.Count).ToArray();
        _join = join;
        _heap = new PriorityQueue<long, (long, int, int)>(
            Comparer<(long Count, int Left, int Right)>.Create(ComparePriority));
        for (int w = 0; w < _words.Length; w++) AddPairs(w, +1);
        foreach (var (key, count) in _pairCounts) _heap.Enqueue(key, (count, PairKey.Left(key), PairKey.Right(key)));
    }

    /// <summary>
    /// Performs up to <paramref name="maxMerges"/> merges of pairs seen at least <paramref name="minCount"/>
    /// times; returns them in order as (left, right, new symbol).
    /// </summary>
    public List<(int Left, int Right, int Merged)> Run(int maxMerges, long minCount)
    {
        var merges = new List<(int, int, int)>();
        while (merges.Count < maxMerges && _heap.TryDequeue(out long key, out var priority))
        {
            long current = _pairCounts.GetValueOrDefault(key);
            if (current != priority.Count)
            {
                if (current > 0) _heap.Enqueue(key, (current, priority.Left, priority.Right)); // stale entry
                continue;
            }
            if (current < minCount) break;
            int left = PairKey.Left(key), right = PairKey.Right(key);
            int merged = _symbols.Count;
            _symbols.Add(_join(_symbols[left], _symbols[right]));
            merges.Add((left, right, merged));

            var touched = new HashSet<long>(PairKey.Comparer);
            foreach (int w in _pairWords[key].ToArray())
            {
                AddPairs(w, -1, touched);
                _words[w] = Replace(_words[w], left, right, merged);
                AddPairs(w, +1, touched);
            }
            foreach (long changed in touched)
                if (_pairCounts.TryGetValue(changed, out long count) && count > 0)
                    _heap.Enqueue(changed, (count, PairKey.Left(changed), PairKey.Right(changed)));
        }
        return merges;
    }

    /// <summary>The final words, as symbol indices, after the merges.</summary>
    public IReadOnlyList<int[]> Words => _words;

    private void AddPairs(int w, int sign, HashSet<long>? touched = null)
    {
        int[] word = _words[w];
        for (int i = 0; i + 1 < word.Length; i++)
        {
            long key = PairKey.Of(word[i], word[i + 1]);
            long count = _pairCounts.GetValueOrDefault(key) + sign * _counts[w];
            if (count == 0)
            {
                _pairCounts.Remove(key);
                _pairWords.Remove(key);
            }
            else
            {
                _pairCounts[key] = count;
                if (sign > 0)
                {
                    if (!_pairWords.TryGetValue(key, out var set)) _pairWords[key] = set = new HashSet<int>();
                    set.Add(w);
                }
            }
            touched?.Add(key);
        }
    }

    private static int[] Replace(int[] word, int left, int right, int merged)
    {
        var result = new List<int>(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == left && word[i + 1] == right)
            {
                result.Add(merged);
                i++;
            }
            else
            {
                result.Add(word[i]);
            }
        }
        return result.ToArray();
    }

    private int ComparePriority((long Count, int Left, int Right) a, (long Count, int Left, int Right) b)
    {
        int byCount = b.Count.CompareTo(a.Count); // most frequent first
        if (byCount != 0) return byCount;
        int byLeft = string.CompareOrdinal(_symbols[a.Left], _symbols[b.Left]);
        return byLeft != 0 ? byLeft : string.CompareOrdinal(_symbols[a.Right], _symbols[b.Right]);
    }
}
