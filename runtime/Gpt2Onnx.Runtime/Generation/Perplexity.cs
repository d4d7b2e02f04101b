using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>The result of scoring a text: mean negative log-likelihood per predicted token and its
/// exponential.</summary>
public sealed record PerplexityResult(double Loss, double Perplexity, long Tokens, int Windows);

/// <summary>
/// Perplexity of a token sequence with a sliding window (as Hugging Face's guide computes it): windows of
/// the context the model was trained on (its full context when the export does not say), moved by
/// <c>stride</c>; each window scores only the tokens not scored by the one before, with everything before
/// them in the window as context.
/// </summary>
public static class Perplexity
{
    public static PerplexityResult Evaluate(LanguageModel model, IReadOnlyList<int> ids, int window = 0, int stride = 0)
    {
        if (window < 0 || window == 1)
            throw new Gpt2OnnxException($"the window ({window}) must be 0 (the default) or at least 2 tokens");
        if (stride < 0)
            throw new Gpt2OnnxException($"the stride ({stride}) must be 0 (half the window) or more");
        if (window > model.ContextLength)
            throw new Gpt2OnnxException($"a window of {window} tokens exceeds the model's context of " +
                                        $"{model.ContextLength}: pass at most {model.ContextLength}, or 0 for the " +
                                        "window it was trained on");
        window = window == 0 ? model.TrainedContext ?? model.ContextLength : window;
        stride = stride == 0 ? Math.Max(1, window / 2) : stride;
        if (stride > window) throw new Gpt2OnnxException($"the stride ({stride}) must not exceed the window " +
                                                         $"({window})");
        if (ids.Count < 2) throw new Gpt2OnnxException("the text has fewer than two tokens, so nothing can be " +
                                                       "predicted: give a longer text");
        using var decoder = model.CreateDecoder(1, window);
        double total = 0;
        long scored = 0;
        int windows = 0, previousEnd = 0;
        for (int begin = 0; previousEnd < ids.Count; begin += stride)
        {
            int end = Math.Min(begin + window, ids.Count);
            var chunk = new int[end - begin];
            for (int i = 0; i < chunk.Length; i++) chunk[i] = ids[begin + i];
            var logits = decoder.PrefillAll(chunk);
            int first = Math.Max(previousEnd, begin + 1); // the first token this window scores
            for (int target = first; target < end; target++)
            {
                var row = logits.AsSpan((target - 1 - begin) * model.VocabSize, model.VocabSize);
                total += LogSumExp(row) - row[ids[target]];
                scored++;
            }
            windows++;
            if (!double.IsFinite(total))
                throw new Gpt2OnnxException($"the model's logits in window {windows} (tokens {begin}-{end - 1}) are " +
                                            "not finite numbers: they overflowed float's range, so the weights are " +
                                            "damaged or far out of range and perplexity is undefined; export the " +
                                            "model again from a sound checkpoint");
            previousEnd = end;
        }
        double loss = total / scored;
        return new PerplexityResult(loss, Finite(Math.Exp(loss), loss), scored, windows);
    }

    /// <summary>
    /// The perplexity, or an error when it is beyond a double: e to a loss over 709 nats, which no sound model
    /// reaches (a uniform guess over GPT-2's vocabulary is 10.8), printed as "Infinity" with success before.
    /// </summary>
    public static double Finite(double perplexity, double loss) => double.IsFinite(perplexity)
        ? perplexity
        : throw new Gpt2OnnxException($"the loss is {loss:G6} nats per token, so perplexity (e to the loss) " +
                                      "overflows: the model's logits are extreme, its weights damaged or far off");

    private static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = System.Numerics.Tensors.TensorPrimitives.Max(row);
        double sum = 0;
        foreach (float v in row) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
