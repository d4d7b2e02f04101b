using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.TestSupport;

/// <summary>
/// Beam search written from Hugging Face's definition over <see cref="ReferenceGpt2"/>'s float64 logits,
/// recomputing every sequence from its first token at each step (no cache, no batch): the expectation the
/// runtime's beam search is tested against. <paramref name="EarlyStopping"/> is "true", "false" or "never".
/// </summary>
public sealed record ReferenceBeamSearch(int NumBeams, int MaxNewTokens, IReadOnlyCollection<int> EndTokens,
                                         double LengthPenalty = 1.0, string EarlyStopping = "false",
                                         int NoRepeatNgramSize = 0, int NumReturnSequences = 1)
{
    /// <summary>
    /// A finished hypothesis: new ids (the end token left out), score, and whether an end token ended it.
    /// </summary>
    public sealed record Hypothesis(int[] Ids, double Score, bool Ended);

    /// <summary>The best <see cref="NumReturnSequences"/> hypotheses, best first.</summary>
    public IReadOnlyList<Hypothesis> Run(ReferenceGpt2 model, int[] prompt)
    {
        var pool = new List<Hypothesis>();
        double worst = 1e9;
        void Offer(int[] ids, double logProb, int length, bool ended)
        {
            double score = logProb / Math.Pow(length, LengthPenalty);
            if (pool.Count == NumBeams && score <= worst) return;
            pool.Add(new Hypothesis(ids, score, ended));
            if (pool.Count > NumBeams)
            {
                int drop = 0;
                for (int i = 1; i < pool.Count; i++) if (pool[i].Score < pool[drop].Score) drop = i;
                pool.RemoveAt(drop);
                worst = pool.Min(h => h.Score);
            }
            else worst = Math.Min(worst, score);
        }
        // Each running beam: its new tokens and summed log-probability; beams after the first start "unreachable".
        var running = Enumerable.Range(0, NumBeams)
                                .Select(b => (Ids: new List<int>(), LogProb: b == 0 ? 0.0 : -1e9)).ToList();
        bool done = false;
        for (int step = 1; step <= MaxNewTokens && !done; step++)
        {
            var all = new List<(int Beam, int Token, double LogProb)>();
            for (int b = 0; b < NumBeams; b++)
            {
                int[] sequence = [.. prompt, .. running[b].Ids];
                var logProbs = LogSoftmax(model.Forward(sequence)[^1]);
                foreach (int banned in Banned(sequence)) logProbs[banned] = double.NegativeInfinity;
                for (int t = 0; t < logProbs.Length; t++) all.Add((b, t, running[b].LogProb + logProbs[t]));
            }
            // Stable sort: equal scores keep beam-then-token order.
            int keep = Math.Max(2, 1 + EndTokens.Count) * NumBeams;
            var ranked = all.OrderByDescending(c => c.LogProb).Take(keep).ToList();
            var next = new List<(List<int> Ids, double LogProb)>();
            for (int rank = 0; rank < ranked.Count && next.Count < NumBeams; rank++)
            {
                var c = ranked[rank];
                if (!EndTokens.Contains(c.Token)) next.Add(([.. running[c.Beam].Ids, c.Token], c.LogProb));
                else if (rank < NumBeams) Offer([.. running[c.Beam].Ids], c.LogProb, step, ended: true);
            }
            running = next;
            done = pool.Count == NumBeams && EarlyStopping switch
            {
                "true" => true,
                "never" when LengthPenalty > 0 => worst >= ranked[0].LogProb / Math.Pow(MaxNewTokens, LengthPenalty),
                _ => worst >= ranked[0].LogProb / Math.Pow(step, LengthPenalty),
            };
        }
        if (!done) foreach (var beam in running) Offer([.. beam.Ids], beam.LogProb, beam.Ids.Count, ended: false);
        return pool.Select((h, i) => (h, i)).OrderByDescending(p => p.h.Score).ThenByDescending(p => p.i)
                   .Take(NumReturnSequences).Select(p => p.h).ToList();
    }

    /// <summary>Tokens that would complete an n-gram already in <paramref name="sequence"/>.</summary>
    private IEnumerable<int> Banned(int[] sequence)
    {
        int n = NoRepeatNgramSize;
        if (n == 0 || sequence.Length + 1 < n) yield break;
        var tail = sequence[(sequence.Length - (n - 1))..];
        for (int start = 0; start + n <= sequence.Length; start++)
            if (sequence.AsSpan(start, n - 1).SequenceEqual(tail)) yield return sequence[start + n - 1];
    }

    private static double[] LogSoftmax(double[] logits)
    {
        double max = logits.Max();
        double logSum = max + Math.Log(logits.Sum(l => Math.Exp(l - max)));
        return logits.Select(l => l - logSum).ToArray();
    }
}
