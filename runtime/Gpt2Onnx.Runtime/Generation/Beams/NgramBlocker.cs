namespace Gpt2Onnx.Runtime.Generation.Beams;

/// <summary>
/// Hugging Face's no_repeat_ngram_size: a token is banned where, after the sequence's last n - 1 tokens, it
/// would repeat an n-gram the sequence (prompt included) already holds. Size 1 bans every token already seen.
/// </summary>
internal static class NgramBlocker
{
    /// <summary>
    /// Sets the log-probability of every banned next token of <paramref name="sequence"/> to -infinity.
    /// </summary>
    public static void Ban(int size, IReadOnlyList<int> sequence, Span<double> logProbs)
    {
        int length = sequence.Count;
        if (size <= 0 || length + 1 < size) return;
        int prefix = size - 1;
        for (int start = 0; start + size <= length; start++)
        {
            bool same = true;
            for (int k = 0; k < prefix && same; k++) same = sequence[start + k] == sequence[length - prefix + k];
            if (same) logProbs[sequence[start + prefix]] = double.NegativeInfinity;
        }
    }
}
