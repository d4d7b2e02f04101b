using System.Diagnostics;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>What <c>gpt2-run bench</c> measures.</summary>
public sealed record BenchResult(
    string Mode, int Batch, int PromptLength, int NewTokens, double PrefillMs, double StepMsP50, double StepMsP90,
    double TokensPerSecond, double HostShare, double AllocatedBytesPerStep, long PeakRssBytes, long RssGrowthBytes);

/// <summary>A graph to time: through this runtime's decoder (IO binding), or as plain ONNX Runtime runs it (the
/// peer).</summary>
public sealed record BenchRow(LanguageModel Model, bool IoBinding);

/// <summary>
/// Times generation on random prompts of equal length: the prefill, then each decoding step (greedy).
/// "io-binding" is this runtime's decoder; "plain-run" is what an application writes without IO binding:
/// one Run per token with the pasts passed in and every output handed back as a new tensor, the logits
/// copied to managed memory — the peer the speed targets compare against.
/// </summary>
public static class DecodeBenchmark
{
    public static BenchResult Run(LanguageModel model, int batch, int promptLength, int newTokens, bool ioBinding,
                                  int warmupSteps = 3)
    {
        // In long: a huge count overflowed int and passed the check.
        if ((long)promptLength + newTokens + warmupSteps > model.ContextLength)
            throw new Gpt2OnnxException($"prompt {promptLength} + {newTokens} new tokens exceed the model's " +
                                        $"context of {model.ContextLength}");
        Decoder.CheckMemory(model, batch, promptLength + newTokens + warmupSteps); // before the prompts: batch of them
        var random = new Random(7);
        var prompts = Enumerable.Range(0, batch)
            .Select(_ => Enumerable.Range(0, promptLength).Select(_ => random.Next(model.VocabSize)).ToArray())
                .ToList();
        return ioBinding ? WithBinding(model, prompts, newTokens, warmupSteps)
            : WithPlainRun(model, prompts, newTokens, warmupSteps);
    }

    /// <summary>
    /// Times every row once per round, in this process: forwards in even rounds and backwards in odd ones
    /// (A B, B A, ...), so a slow minute of the machine falls on every row alike and each round's ratios
    /// compare runs seconds apart. Returns each row's results, one per round.
    /// </summary>
    public static BenchResult[][] Rounds(IReadOnlyList<BenchRow> rows, int batch, int promptLength, int newTokens,
                                         int rounds,
                                         Action<int>? roundStarting = null)
    {
        if (rows.Count == 0) throw new ArgumentException("at least one row");
        if (rounds < 1) throw new ArgumentOutOfRangeException(nameof(rounds), rounds, "at least one round");
        var results = rows.Select(_ => new BenchResult[rounds]).ToArray();
        for (int round = 0; round < rounds; round++)
        {
            roundStarting?.Invoke(round);
            for (int k = 0; k < rows.Count; k++)
            {
                int i = round % 2 == 0 ? k : rows.Count - 1 - k;
                results[i][round] = Run(rows[i].Model, batch, promptLength, newTokens, rows[i].IoBinding);
            }
        }
        return results;
    }

    private static BenchResult WithBinding(LanguageModel model, List<int[]> prompts, int newTokens, int warmup)
    {
        int batch = prompts.Count, length = prompts[0].Length;
        using var decoder = model.CreateDecoder(batch, length + newTokens + warmup);
        decoder.Prefill(prompts); // warms up the prefill path
        var clock = Stopwatch.StartNew();
        decoder.Prefill(prompts);
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        var tokens = new int[batch];
        var samplers = Enumerable.Range(0, batch)
            .Select(_ => new Sampler(model.VocabSize,
                                     new SamplingOptions { Greedy = true, MaxNewTokens = newTokens + warmup }))
                                         .ToArray();
        void Step()
        {
            for (int b = 0; b < batch; b++) tokens[b] = samplers[b].Next(decoder.Logits(b));
            decoder.Step(tokens);
        }
        for (int i = 0; i < warmup; i++) Step();
        var times = new double[newTokens];
        long rssBefore = CurrentRss();
        long runTicksBefore = decoder.RunTicks, allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < newTokens; i++)
        {
            long t = Stopwatch.GetTimestamp();
            Step();
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        long total = Stopwatch.GetTimestamp() - start;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        double host = 1 - (double)(decoder.RunTicks - runTicksBefore) / total;
        return Result("io-binding", batch, length, newTokens, prefillMs, times, host, (double)allocated / newTokens,
                      CurrentRss() - rssBefore);
    }

    private static BenchResult WithPlainRun(LanguageModel model, List<int[]> prompts, int newTokens, int warmup)
    {
        var session = model.Session;
        int batch = prompts.Count, length = prompts[0].Length, vocab = model.VocabSize;
        var outputNames = new List<string> { GraphNames.Logits };
        for (int i = 0; i < model.Layers; i++)
            outputNames.AddRange([GraphNames.PresentKey(i), GraphNames.PresentValue(i)]);
        var pasts = new List<OrtValue>();
        int total = 0;
        var next = new long[batch];
        long runTicks = 0;
        var cacheType = (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)model.CacheType;
        using var runOptions = new RunOptions();

        // One step as an application without IO binding writes it: new input tensors, Run, outputs handed back.
        void RunOnce(long[] ids, int newPerRow)
        {
            total += newPerRow;
            var names = new List<string> { GraphNames.InputIds, GraphNames.AttentionMask, GraphNames.PositionIds };
            var inputs = new List<OrtValue>
            {
                OrtValue.CreateTensorValueFromMemory(ids, [batch, newPerRow]),
                OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(1L, batch * total).ToArray(), [batch, total]),
                OrtValue.CreateTensorValueFromMemory(Enumerable.Range(0,
                    batch).SelectMany(_ => Enumerable.Range(total - newPerRow, newPerRow)
                    .Select(p => (long)p)).ToArray(), [batch, newPerRow]),
            };
            if (pasts.Count == 0)
                for (int i = 0; i < 2 * model.Layers; i++)
                    pasts.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, cacheType,
                                                                  [batch, model.Heads, 0, model.HeadSize]));
            for (int i = 0; i < model.Layers; i++)
            {
                names.AddRange([GraphNames.PastKey(i), GraphNames.PastValue(i)]);
                inputs.AddRange([pasts[2 * i], pasts[2 * i + 1]]);
            }
            long t = Stopwatch.GetTimestamp();
            var outputs = session.Session.Run(runOptions, names, inputs, outputNames);
            runTicks += Stopwatch.GetTimestamp() - t;
            foreach (var value in inputs) value.Dispose();
            var logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            for (int b = 0; b < batch; b++)
                next[b] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits.AsSpan(((b
                    + 1) * newPerRow - 1) * vocab, vocab));
            outputs[0].Dispose();
            pasts = outputs.Skip(1).ToList();
        }

        var promptIds = prompts.SelectMany(p => p.Select(i => (long)i)).ToArray();
        RunOnce(promptIds, length);
        foreach (var p in pasts) p.Dispose();
        pasts.Clear();
        total = 0;
        var clock = Stopwatch.StartNew();
        RunOnce(promptIds, length);
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        for (int i = 0; i < warmup; i++) RunOnce(next.ToArray(), 1);
        var times = new double[newTokens];
        long rssBefore = CurrentRss();
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread(), runBefore = runTicks,
        start = Stopwatch.GetTimestamp();
        for (int i = 0; i < newTokens; i++)
        {
            long t = Stopwatch.GetTimestamp();
            RunOnce(next.ToArray(), 1);
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        long elapsed = Stopwatch.GetTimestamp() - start;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        foreach (var p in pasts) p.Dispose();
        return Result("plain-run", batch, length, newTokens, prefillMs, times,
                      1 - (double)(runTicks - runBefore) / elapsed, (double)allocated / newTokens,
                      CurrentRss() - rssBefore);
    }

    private static BenchResult Result(string mode, int batch, int length, int newTokens, double prefillMs,
                                      double[] times, double host, double allocatedPerStep,
                                      long rssGrowth)
    {
        var sorted = times.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        return new BenchResult(mode, batch, length, newTokens, prefillMs, P(0.5), P(0.9),
                               batch * newTokens / (times.Sum() / 1000), host, allocatedPerStep, PeakRss(),
                               rssGrowth);
    }

    /// <summary>The process's peak resident set (VmHWM), in bytes.</summary>
    public static long PeakRss() => ProcStatus("VmHWM:");

    /// <summary>The process's resident set now (VmRSS), in bytes.</summary>
    public static long CurrentRss() => ProcStatus("VmRSS:");

    private static long ProcStatus(string field)
    {
        try
        {
            var line = File.ReadLines("/proc/self/status")
                .FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line == null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
