using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Runtime.Generation.Beams;

/// <summary>
/// A hypothesis beam search finished: its generated ids, summed log-probability and length-penalised score.
/// </summary>
public sealed record BeamHypothesis(int[] TokenIds, double LogProbability, double Score, bool EndedByStopToken);

/// <summary>
/// The best finished hypotheses so far, at most one per beam, kept as Hugging Face's beam search keeps them:
/// a hypothesis enters while there is room or when it beats the worst one (which then leaves), and the
/// search is done when, by the <see cref="EarlyStopping"/> rule, no running beam can still enter.
/// </summary>
internal sealed class FinishedHypotheses
{
    private readonly BeamSearchOptions _options;
    private readonly int _maxGenerated;
    private readonly List<BeamHypothesis> _kept = [];
    private double _worst = 1e9; // Hugging Face's starting value: any first hypothesis is below it

    /// <param name="maxGenerated">the most tokens a hypothesis can have (the "never" rule's longest length)</param>
    public FinishedHypotheses(BeamSearchOptions options, int maxGenerated)
    {
        _options = options;
        _maxGenerated = maxGenerated;
    }

    public int Count => _kept.Count;

    /// <summary>
    /// Offers a hypothesis whose summed log-probability is <paramref name="logProbability"/> and whose length for
    /// the penalty is <paramref name="generatedLength"/> (an ended one counts its stop token, which it does not keep).
    /// </summary>
    public void Add(int[] tokenIds, double logProbability, int generatedLength, bool ended)
    {
        double score = logProbability / Math.Pow(generatedLength, _options.LengthPenalty);
        if (_kept.Count >= _options.NumBeams && !(score > _worst)) return;
        _kept.Add(new BeamHypothesis(tokenIds, logProbability, score, ended));
        if (_kept.Count > _options.NumBeams)
        {
            // The worst leaves (the earliest among equals); the next worst becomes the bar.
            var order = Enumerable.Range(0, _kept.Count).OrderBy(i => _kept[i].Score).ThenBy(i => i).ToList();
            _worst = _kept[order[1]].Score;
            _kept.RemoveAt(order[0]);
        }
        else
        {
            _worst = Math.Min(score, _worst);
        }
    }

    /// <summary>
    /// Whether the search can stop: every beam has a finished hypothesis and none of the running ones, whose best
    /// summed log-probability is <paramref name="bestRunning"/> at <paramref name="generatedLength"/> tokens, can
    /// beat the worst of them under the early-stopping rule.
    /// </summary>
    public bool IsDone(double bestRunning, int generatedLength)
    {
        if (_kept.Count < _options.NumBeams) return false;
        double penalty = _options.LengthPenalty;
        double bestPossible = _options.EarlyStopping switch
        {
            EarlyStopping.WhenFull => double.NegativeInfinity,
            EarlyStopping.Never when penalty > 0 => bestRunning / Math.Pow(_maxGenerated, penalty),
            _ => bestRunning / Math.Pow(generatedLength, penalty),
        };
        return _worst >= bestPossible;
    }

    /// <summary>The <paramref name="count"/> best, best first (among equal scores, the later found first).</summary>
    public IReadOnlyList<BeamHypothesis> Best(int count) =>
        _kept.Select((h, i) => (h, i)).OrderByDescending(p => p.h.Score).ThenByDescending(p => p.i)
             .Take(count).Select(p => p.h).ToList();
}
