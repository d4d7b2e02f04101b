using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// Encodes many documents across cores. Each document is encoded whole by one thread, so the ids are
/// exactly those of encoding it alone; results come back in input order.
/// </summary>
public static class ParallelEncoder
{
    /// <param name="threads">worker threads; 0 means every core</param>
    /// <param name="progress">called with the number of documents finished so far (from worker threads)</param>
    public static int[][] EncodeAll(ITokenizer tokenizer, IReadOnlyList<string> documents, int threads = 0,
                                    Action<int>? progress = null)
    {
        if (threads < 0) throw new Gpt2OnnxException($"--threads must be 0 (every core) or more, not {threads}");
        var results = new int[documents.Count][];
        int done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0
                                           ? threads : Environment.ProcessorCount };
        Parallel.For(0, documents.Count, options, () => new List<int>(), (i, _, ids) =>
        {
            ids.Clear();
            tokenizer.Encode(documents[i], ids);
            results[i] = ids.ToArray();
            int finished = Interlocked.Increment(ref done);
            if (progress != null && (finished & 255) == 0) progress(finished);
            return ids;
        }, _ => { });
        progress?.Invoke(documents.Count);
        return results;
    }
}
