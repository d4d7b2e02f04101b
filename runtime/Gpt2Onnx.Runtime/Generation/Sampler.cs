using System.Numerics.Tensors;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// Chooses one sequence's next tokens from logits: penalties, temperature, top-k, top-p, then a draw from
/// a seeded generator (or argmax). The trainer and the runtime use this same class, so equal logits and
/// an equal seed give equal tokens on both sides. Every buffer is allocated once per vocabulary; choosing a
/// token allocates nothing. Not thread-safe: one per sequence.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly int _vocabSize;
    private readonly int _decodable;
    private readonly int[] _suppressedWhileShort;
    private readonly int[] _contextCounts;   // prompt + generated, for the repetition penalty
    private readonly int[] _generatedCounts; // generated only, for presence and frequency penalties
    private readonly List<int> _contextTokens = new(4096);
    private readonly List<int> _generatedTokens = new(4096);
    private readonly float[] _weights;
    private readonly int[] _candidates;
    private Xoshiro256 _random;
    private int _generated;

    /// <param name="stopTokenIds">ids that end generation; they are forbidden until MinNewTokens tokens exist</param>
    /// <param name="decodableIds">
    /// ids from this one up are never chosen: the padding rows of a vocabulary padded beyond its tokenizer (nanoGPT
    /// pads GPT-2's 50257 to 50304), which were never trained on and which no tokenizer can turn into text
    /// </param>
    public Sampler(int vocabSize, SamplingOptions options, IReadOnlyList<int>? stopTokenIds = null,
                   int? decodableIds = null)
    {
        _options = options.Validate();
        _vocabSize = vocabSize;
        _decodable = Math.Clamp(decodableIds ?? vocabSize, 1, vocabSize);
        _suppressedWhileShort = (stopTokenIds ?? options.StopTokenIds).Where(id => id >= 0 && id < vocabSize).Distinct()
            .ToArray();
        _contextCounts = new int[vocabSize];
        _generatedCounts = new int[vocabSize];
        _weights = new float[vocabSize];
        _candidates = new int[vocabSize];
        _random = new Xoshiro256(options.Seed);
    }

    public SamplingOptions Options => _options;

    /// <summary>Tokens chosen since the last reset.</summary>
    public int GeneratedCount => _generated;

    /// <summary>Starts a new sequence: forgets the counts, reseeds the generator, and counts the prompt's
    /// tokens.</summary>
    public void Reset(ReadOnlySpan<int> prompt)
    {
        foreach (int id in _contextTokens) _contextCounts[id] = 0;
        foreach (int id in _generatedTokens) _generatedCounts[id] = 0;
        _contextTokens.Clear();
        _generatedTokens.Clear();
        _generated = 0;
        _random = new Xoshiro256(_options.Seed);
        foreach (int id in prompt) Count(id, generated: false);
    }

    /// <summary>
    /// Chooses the next token from <paramref name="logits"/> (one row of the vocabulary; overwritten as
    /// scratch) and records it as generated.
    /// </summary>
    public int Next(Span<float> logits)
    {
        if (logits.Length != _vocabSize)
            throw new ArgumentException($"expected {_vocabSize} logits, got {logits.Length}");
        if (float.IsNaN(TensorPrimitives.Sum(logits)) && ContainsNaN(logits))
            throw new Gpt2OnnxException("the model produced NaN logits, so no token can be chosen: the model or its " +
                                        "export is broken (check it with 'gpt2-train parity')");
        ApplyPenalties(logits);
        logits[_decodable..].Fill(float.NegativeInfinity);
        if (GeneratedCount < _options.MinNewTokens)
            foreach (int id in _suppressedWhileShort) logits[id] = float.NegativeInfinity;

        int token = _options.IsGreedy ? TensorPrimitives.IndexOfMax(logits) : Draw(logits);
        Count(token, generated: true);
        return token;
    }

    private void ApplyPenalties(Span<float> logits)
    {
        float r = (float)_options.RepetitionPenalty;
        if (r != 1f)
        {
            foreach (int id in _contextTokens)
                logits[id] = logits[id] > 0 ? logits[id] / r : logits[id] * r;
        }
        if (_options.PresencePenalty != 0 || _options.FrequencyPenalty != 0)
        {
            foreach (int id in _generatedTokens)
                logits[id] -= (float)(_options.PresencePenalty + _options.FrequencyPenalty * _generatedCounts[id]);
        }
    }

    private int Draw(Span<float> logits)
    {
        // Weights proportional to softmax(logits / T), computed relative to the maximum so nothing overflows.
        float max = TensorPrimitives.Max(logits);
        if (float.IsNegativeInfinity(max))
            throw new Gpt2OnnxException("every token is forbidden (all logits are -inf): loosen the stop tokens or " +
                                        "min-new-tokens");
        var weights = _weights.AsSpan();
        TensorPrimitives.Subtract(logits, max, weights);
        TensorPrimitives.Multiply(weights, (float)(1.0 / _options.Temperature), weights);
        TensorPrimitives.Exp(weights, weights);

        int topK = _options.TopK is > 0 and var k && k < _vocabSize ? k : 0;
        bool topP = _options.TopP < 1;
        if (topK == 0 && !topP)
            return DrawFrom(weights, [], everyId: true);

        var candidates = _candidates.AsSpan();
        for (int i = 0; i < candidates.Length; i++) candidates[i] = i;
        int kept = candidates.Length;
        if (topK > 0) kept = SelectLargest(candidates, weights, topK, double.PositiveInfinity);
        if (topP)
        {
            double mass = 0;
            foreach (int id in candidates[..kept]) mass += weights[id];
            kept = SelectLargest(candidates[..kept], weights, int.MaxValue, _options.TopP * mass);
        }
        var chosen = candidates[..kept];
        chosen.Sort(); // draw in token order, so the result does not depend on how the selection shuffled them
        return DrawFrom(weights, chosen, everyId: false);
    }

    /// <summary>Draws an id with probability proportional to its weight, among <paramref name="ids"/> or every
    /// id.</summary>
    private int DrawFrom(ReadOnlySpan<float> weights, ReadOnlySpan<int> ids, bool everyId)
    {
        bool all = everyId;
        double total = 0;
        if (all) total = TensorPrimitives.Sum(weights);
        else foreach (int id in ids) total += weights[id];
        double target = _random.NextDouble() * total;
        double running = 0;
        int last = -1;
        int count = all ? weights.Length : ids.Length;
        for (int i = 0; i < count; i++)
        {
            int id = all ? i : ids[i];
            if (weights[id] <= 0) continue;
            last = id;
            running += weights[id];
            if (running > target) return id;
        }
        return last; // rounding left the target at the very end
    }

    /// <summary>
    /// Moves the largest-weighted ids to the front of <paramref name="ids"/> and returns how many to keep:
    /// the fewest largest ids that reach <paramref name="massNeeded"/>, at most <paramref name="maxCount"/>.
    /// A three-way quickselect: expected linear time, no allocation. Ties at the boundary go to the lowest ids.
    /// </summary>
    internal static int SelectLargest(Span<int> ids, ReadOnlySpan<float> weights, int maxCount, double massNeeded)
    {
        int kept = 0, hi = ids.Length;
        double mass = 0;
        while (kept < maxCount && mass < massNeeded && kept < hi)
        {
            float pivot = MedianOfThree(weights[ids[kept]], weights[ids[kept + (hi - kept) / 2]], weights[ids[hi - 1]]);
            // [kept, greater) > pivot, [greater, less) == pivot, [less, hi) < pivot
            int greater = kept, scan = kept, less = hi;
            while (scan < less)
            {
                float w = weights[ids[scan]];
                if (w > pivot)
                {
                    (ids[greater], ids[scan]) = (ids[scan], ids[greater]);
                    greater++;
                    scan++;
                }
                else if (w < pivot)
                {
                    less--;
                    (ids[scan], ids[less]) = (ids[less], ids[scan]);
                }
                else
                {
                    scan++;
                }
            }
            double greaterMass = 0;
            for (int i = kept; i < greater; i++) greaterMass += weights[ids[i]];
            if (kept + (greater - kept) >= maxCount || mass + greaterMass >= massNeeded)
            {
                hi = greater; // the boundary lies among the larger ones
                continue;
            }
            kept = greater;
            mass += greaterMass;
            ids[greater..less].Sort();
            for (int i = greater; i < less && kept < maxCount && mass < massNeeded; i++)
            {
                kept++;
                mass += pivot;
            }
            if (kept < less) return kept; // stopped among the equal ones
        }
        return kept;
    }

    private static float MedianOfThree(float a, float b, float c) =>
        Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));

    private void Count(int id, bool generated)
    {
        if (generated) _generated++;
        if (_contextCounts[id]++ == 0) _contextTokens.Add(id);
        if (generated && _generatedCounts[id]++ == 0) _generatedTokens.Add(id);
    }

    private static bool ContainsNaN(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
            if (float.IsNaN(v)) return true;
        return false;
    }
}
