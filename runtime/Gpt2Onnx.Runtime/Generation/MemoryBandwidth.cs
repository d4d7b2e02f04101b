using System.Diagnostics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>
/// How fast this machine streams memory into the cores: the floor under a decoding step at batch 1,
/// which must read every weight once. Benchmarks report it so their step times can be judged against it.
/// </summary>
public static unsafe class MemoryBandwidth
{
    /// <summary>Bytes per second read by <paramref name="threads"/> threads summing a buffer far larger than the caches
    /// (best of five).</summary>
    public static double Measure(int threads, int megabytes = 256)
    {
        if (threads < 1) threads = Environment.ProcessorCount;
        long count = (long)megabytes << 18; // floats
        nuint bytes = (nuint)(count * sizeof(float));
        // On 2 MB pages where the system has them, as the runtime's weights are: the fastest this machine streams.
        var data = (float*)HugePages.Allocate(bytes);
        bool huge = data != null;
        if (!huge) data = (float*)NativeMemory.AlignedAlloc(bytes, 64);
        try
        {
            new Span<float>(data, (int)count).Fill(1f);
            long chunk = count / threads;
            var sums = new float[threads]; // kept, so the reads cannot be optimised away
            double best = 0;
            for (int repeat = 0; repeat < 5; repeat++)
            {
                long start = Stopwatch.GetTimestamp();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads },
                    t => sums[t] = TensorPrimitives.Sum(new ReadOnlySpan<float>(data + t * chunk, (int)chunk)));
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                best = Math.Max(best, chunk * threads * sizeof(float) / seconds);
            }
            return best;
        }
        finally
        {
            if (huge) HugePages.Free(data, bytes);
            else NativeMemory.AlignedFree(data);
        }
    }
}
