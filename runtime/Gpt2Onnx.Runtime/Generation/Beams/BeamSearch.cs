using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Runtime.Generation.Beams;

/// <summary>
/// Beam search with Hugging Face's semantics over one prompt. The beams are the rows of one batch in the
/// decoder, so each step reads the weights once for all of them; when beams are reselected the decoder moves
/// their cache rows in place. Each step: score every beam's next tokens, keep the best (1 + stop tokens) ×
/// beams candidates, let the top-ranked ones that end in a stop token finish, continue with the best beams that
/// do not, and stop when the early-stopping rule says no running beam can still win or the length is reached.
/// </summary>
internal sealed class BeamSearch
{
    /// <summary>
    /// Hugging Face's score for beams 2..n before the first step, so that it expands the first beam only.
    /// </summary>
    private const double Unstarted = -1e9;

    private readonly LanguageModel _model;
    private readonly Decoder _decoder;
    private readonly SamplingOptions _options;
    private readonly BeamSearchOptions _beams;
    private readonly HashSet<int> _stops;
    private readonly BeamCandidates _candidates;
    private readonly int _width, _keep;

    public BeamSearch(LanguageModel model, Decoder decoder, SamplingOptions options)
    {
        _model = model;
        _decoder = decoder;
        _options = options;
        _beams = options.Beams;
        _width = _beams.NumBeams;
        _stops = [.. options.StopTokenIds, model.EndOfTextId];
        _keep = Math.Max(2, 1 + _stops.Count) * _width;
        _candidates = new BeamCandidates(model.VocabSize, model.Tokenizer.VocabSize);
    }

    /// <summary>Tokens generated (steps taken) in the last run.</summary>
    public int Steps { get; private set; }

    /// <summary>Searches from <paramref name="prompt"/>; the decoder must hold at least NumBeams rows.</summary>
    public GenerationResult Run(int[] prompt)
    {
        int maxNew = Math.Min(_options.MaxNewTokens, _decoder.MaxLength - prompt.Length);
        Steps = 0;
        if (maxNew <= 0) return new GenerationResult(prompt, [], "", FinishReasons.Length) { Sequences = [] };
        var finished = new FinishedHypotheses(_beams, maxNew);
        var beams = Enumerable.Range(0, _width).Select(b => new Beam([.. prompt], b == 0 ? 0 : Unstarted)).ToArray();
        var running = Search(prompt, beams, maxNew, finished, out bool done);
        // Unless the search was done, the running beams compete with the finished ones at their length.
        foreach (var beam in done ? [] : running)
            finished.Add(beam.Generated(prompt.Length), beam.Score, beam.Ids.Count - prompt.Length, ended: false);
        var best = finished.Best(_beams.NumReturnSequences).Select(ToSequence).ToList();
        return new GenerationResult(prompt, best[0].TokenIds, best[0].Text, best[0].FinishReason) { Sequences = best };
    }

    /// <summary>
    /// The running beams at the end (none matter when <paramref name="done"/>: the finished ones won).
    /// </summary>
    private Beam[] Search(int[] prompt, Beam[] beams, int maxNew, FinishedHypotheses finished, out bool done)
    {
        _decoder.PrefillCopies(prompt, _width);
        for (int step = 0; ; step++)
        {
            var candidates = Score(beams, step);
            var (next, parents) = Select(beams, candidates, finished, prompt.Length);
            Steps++;
            done = finished.IsDone(candidates[0].Score, step + 1);
            beams = next;
            if (done || step + 1 >= maxNew) return beams;
            _decoder.ReorderRows(parents);
            _decoder.Step(beams.Select(b => b.Ids[^1]).ToArray());
        }
    }

    /// <summary>
    /// The best candidates over all beams: log-probabilities with bans applied, plus each beam's score.
    /// </summary>
    private List<BeamCandidate> Score(Beam[] beams, int generated)
    {
        var best = new List<BeamCandidate>(_keep + 1);
        for (int b = 0; b < beams.Length; b++)
        {
            var logProbs = _candidates.LogSoftmax(_decoder.Logits(b));
            NgramBlocker.Ban(_beams.NoRepeatNgramSize, beams[b].Ids, logProbs);
            if (generated < _options.MinNewTokens)
                foreach (int stop in _stops)
                    if (stop < logProbs.Length) logProbs[stop] = double.NegativeInfinity;
            BeamCandidates.Offer(best, _keep, b, beams[b].Score, logProbs);
        }
        return best;
    }

    /// <summary>
    /// Walks the candidates best first: one ending in a stop token finishes its beam (only if it ranks among the
    /// first NumBeams), any other becomes a beam of the next step, until there are NumBeams of them.
    /// </summary>
    private (Beam[] Next, int[] Parents) Select(Beam[] beams, List<BeamCandidate> candidates,
                                                FinishedHypotheses finished, int promptLength)
    {
        var next = new List<Beam>(_width);
        var parents = new int[_width];
        for (int rank = 0; rank < candidates.Count && next.Count < _width; rank++)
        {
            var (beam, token, score) = candidates[rank];
            if (_stops.Contains(token))
            {
                if (rank < _width)
                {
                    var ids = beams[beam].Generated(promptLength);
                    finished.Add(ids, score, ids.Length + 1, ended: true);
                }
                continue;
            }
            parents[next.Count] = beam;
            next.Add(new Beam([.. beams[beam].Ids, token], score));
        }
        if (next.Count < _width)
            throw new Gpt2OnnxException($"beam search found fewer than {_width} continuations that are not " +
                                        "stop tokens: use fewer beams or fewer stop tokens");
        return (next.ToArray(), parents);
    }

    private BeamSequence ToSequence(BeamHypothesis hypothesis) =>
        new(hypothesis.TokenIds, _model.Tokenizer.Decode(hypothesis.TokenIds), hypothesis.Score,
            hypothesis.EndedByStopToken ? FinishReasons.Stop : FinishReasons.Length);

    /// <summary>A running hypothesis: the prompt and its tokens so far, and their summed log-probability.</summary>
    private sealed record Beam(List<int> Ids, double Score)
    {
        public int[] Generated(int promptLength) => Ids.Skip(promptLength).ToArray();
    }
}
