using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Trainer.Model;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Generation from a libtorch model with the runtime's own <see cref="Sampler"/>: the whole sequence is
/// recomputed each step (no cache), which is slow but is the plainest statement of what the model predicts.
/// As in the runtime, generation ends at the end of the model's context (no sliding window, which would
/// make tokens past it differ from the runtime's).
/// </summary>
public static class ModelGenerator
{
    /// <summary>
    /// The new token ids after <paramref name="prompt"/> (which must not be empty); a stop token ends the
    /// list and is not part of it, as in the runtime's generator. <paramref name="onToken"/> sees each new
    /// token and may end the list after it by returning false (a stop string in its text, say).
    /// </summary>
    public static List<int> Generate(Gpt2Model model, IReadOnlyList<int> prompt, SamplingOptions options,
                                     IReadOnlyList<int> stopTokenIds,
                                     Func<int, bool>? onToken = null)
    {
        if (prompt.Count == 0) throw new ArgumentException("the prompt must hold at least one token (use the " +
                                                           "end-of-text id for none)");
        int context = model.Config.NPositions;
        if (prompt.Count >= context) throw new ArgumentException($"the prompt has {prompt.Count} tokens, which " +
                                                                 $"leaves no room in the model's context of {context}");
        var sampler = new Sampler(model.Config.VocabSize, options, stopTokenIds);
        var ids = prompt.ToList();
        sampler.Reset(ids.ToArray());
        var generated = new List<int>();
        bool training = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            var logits = new float[model.Config.VocabSize];
            for (int step = 0; step < options.MaxNewTokens && ids.Count < context; step++)
            {
                using var scope = NewDisposeScope();
                var window = ids.Select(i => (long)i).ToArray();
                var output = model.Forward(tensor(window, [1, window.Length]).to(model.Device));  // (1, T, V)
                output[0, -1].to_type(ScalarType.Float32).cpu().data<float>().CopyTo(logits);
                int token = sampler.Next(logits);
                if (stopTokenIds.Contains(token) && generated.Count >= options.MinNewTokens) break;
                ids.Add(token);
                generated.Add(token);
                if (onToken != null && !onToken(token)) break;
            }
        }
        finally
        {
            model.train(training);
        }
        return generated;
    }
}
