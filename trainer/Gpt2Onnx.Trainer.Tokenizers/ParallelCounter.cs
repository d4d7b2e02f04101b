using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Tokenizers;

/// <summary>
/// Counts what a tokenizer trainer learns from (pieces, words) over a corpus on every core. Texts are taken one
/// at a time as threads ask for them, so no thread holds a growing chunk of the corpus (the default partitioner
/// buffers up to hundreds of items, each up to a million characters), and an error from the corpus reader
/// (a file that is not text, a malformed line) comes out as itself, not wrapped in an AggregateException.
/// </summary>
internal static class ParallelCounter
{
    /// <summary>The total of the counts <paramref name="count"/> adds for each text.</summary>
    public static Dictionary<string, long> Count(IEnumerable<string> texts,
                                                 Action<string, Dictionary<string, long>> count)
    {
        var partials = new ConcurrentBag<Dictionary<string, long>>();
        try
        {
            var oneAtATime = Partitioner.Create(texts, EnumerablePartitionerOptions.NoBuffering);
            Parallel.ForEach(oneAtATime, () => new Dictionary<string, long>(), (text, _, local) =>
            {
                count(text, local);
                return local;
            }, partials.Add);
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.OfType<Gpt2OnnxException>().FirstOrDefault() is
                                               { } why)
        {
            ExceptionDispatchInfo.Throw(why);
        }
        var total = new Dictionary<string, long>();
        foreach (var partial in partials)
            foreach (var (key, n) in partial)
                total[key] = total.GetValueOrDefault(key) + n;
        return total;
    }
}
