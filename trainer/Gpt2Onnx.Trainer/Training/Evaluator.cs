using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Mean next-token loss on a shard over fixed, evenly spaced windows: the same windows every time, so
/// evaluations compare, and no random generator is touched, so evaluating never changes a training run.
/// </summary>
public static class Evaluator
{
    /// <returns>the mean loss and the number of tokens scored</returns>
    public static (double Loss, long Tokens) Evaluate(Gpt2Model model, TokenShard shard, int context, int batchSize,
                                                      int maxBatches)
    {
        context = (int)Math.Min(context, shard.Length - 1);
        if (context < 1) return (double.NaN, 0);
        long windows = Math.Min((long)batchSize * maxBatches, (shard.Length - 1) / context);
        windows = Math.Max(windows, 1);
        long spacing = Math.Max(1, (shard.Length - 1 - context) / Math.Max(1, windows - 1));
        bool training = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double total = 0;
            long tokens = 0;
            var window = new long[context + 1];
            for (long first = 0; first < windows; first += batchSize)
            {
                int rows = (int)Math.Min(batchSize, windows - first);
                var inputs = new long[rows * context];
                var targets = new long[rows * context];
                for (int r = 0; r < rows; r++)
                {
                    long start = Math.Min((first + r) * spacing, shard.Length - 1 - context);
                    shard.Read(start, window);
                    window.AsSpan(0, context).CopyTo(inputs.AsSpan(r * context));
                    window.AsSpan(1, context).CopyTo(targets.AsSpan(r * context));
                }
                using var scope = NewDisposeScope();
                var ids = tensor(inputs, [rows, context]).to(model.Device);
                double loss = model.Loss(ids, tensor(targets, [rows, context]).to(model.Device)).item<float>();
                total += loss * rows * context;
                tokens += rows * context;
            }
            return (total / tokens, tokens);
        }
        finally
        {
            model.train(training);
        }
    }
}
