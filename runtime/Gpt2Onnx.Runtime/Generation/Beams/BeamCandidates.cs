using System.Numerics.Tensors;

namespace Gpt2Onnx.Runtime.Generation.Beams;

/// <summary>
/// A possible next step of beam search: beam <c>Beam</c> followed by <c>Token</c>, with its summed log-probability.
/// </summary>
internal readonly record struct BeamCandidate(int Beam, int Token, double Score);

/// <summary>
/// Scores every beam's next tokens as Hugging Face's beam search does (log-softmax of the logits in float64,
/// banned tokens at -infinity, plus the beam's running score) and keeps the best few over all beams, best first;
/// equal scores go to the lower beam, then the lower token.
/// </summary>
internal sealed class BeamCandidates
{
    private readonly double[] _logProbs;
    private readonly float[] _exps;
    private readonly int _decodable;

    /// <param name="decodable">ids at or above it have no text (the tokenizer's vocabulary is smaller) and are never
    /// chosen</param>
    public BeamCandidates(int vocabSize, int decodable)
    {
        _logProbs = new double[vocabSize];
        _exps = new float[vocabSize];
        _decodable = Math.Min(decodable, vocabSize);
    }

    /// <summary>
    /// The log-softmax of <paramref name="logits"/> in float64, into a buffer this object reuses. The exponentials
    /// are vectorised in float and summed in float64: each step takes one per token of every beam.
    /// </summary>
    public Span<double> LogSoftmax(ReadOnlySpan<float> logits)
    {
        float max = TensorPrimitives.Max(logits);
        TensorPrimitives.Subtract(logits, max, _exps);
        TensorPrimitives.Exp(_exps, _exps);
        double sum = 0;
        foreach (float e in _exps) sum += e;
        double logSum = max + Math.Log(sum);
        for (int id = 0; id < logits.Length; id++) _logProbs[id] = logits[id] - logSum;
        _logProbs.AsSpan(_decodable).Fill(double.NegativeInfinity);
        return _logProbs;
    }

    /// <summary>
    /// Adds beam <paramref name="beam"/>'s tokens, scored <paramref name="beamScore"/> + log-probability, to <paramref
    /// name="best"/>.
    /// </summary>
    public static void Offer(List<BeamCandidate> best, int keep, int beam, double beamScore,
                             ReadOnlySpan<double> logProbs)
    {
        for (int token = 0; token < logProbs.Length; token++)
        {
            double score = beamScore + logProbs[token];
            if (best.Count == keep && !(score > best[^1].Score)) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Score < score) at--;
            best.Insert(at, new BeamCandidate(beam, token, score));
            if (best.Count > keep) best.RemoveAt(keep);
        }
    }
}
