using System.Diagnostics;
using System.Text.Json.Nodes;
using BenchResult = Gpt2Onnx.Runtime.Generation.BenchResult;
using DecodeBenchmark = Gpt2Onnx.Runtime.Generation.DecodeBenchmark;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Gpt2Onnx.GenAiBench;

/// <summary>
/// Times onnxruntime-genai's Generator as DecodeBenchmark times our decoder: the same random prompts of equal
/// length (its batch_size rows, AppendTokens of all of them), greedy, a warmed-up prefill, three untimed steps,
/// then each GenerateNextToken timed (one model run on the last token and the choice of the next).
/// </summary>
public sealed class GenAiDecodeBenchmark : IDisposable
{
    private const int WarmupSteps = 3; // as DecodeBenchmark
    private readonly Model _model;

    /// <param name="threads">ONNX Runtime's threads inside an operator (0: one per core), as ours get</param>
    /// <param name="profile">when set, ONNX Runtime traces every operator into PROFILE_DATE.json</param>
    public GenAiDecodeBenchmark(string folder, int threads, string? profile = null)
    {
        using var config = new Config(folder);
        // As our ModelSession sets them: intra-op threads as asked, one inter-op thread.
        var options = new JsonObject { ["intra_op_num_threads"] = threads, ["inter_op_num_threads"] = 1 };
        if (profile != null) options["enable_profiling"] = profile;
        var decoder = new JsonObject { ["session_options"] = options };
        config.Overlay(new JsonObject { ["model"] = new JsonObject { ["decoder"] = decoder } }.ToJsonString());
        _model = new Model(config);
        Folder = folder;
    }

    public string Folder { get; }

    public BenchResult Run(int batch, int promptLength, int newTokens, int vocabSize)
    {
        var random = new Random(7); // DecodeBenchmark's prompts
        int[] prompts = Enumerable.Range(0, batch)
            .SelectMany(_ => Enumerable.Range(0, promptLength).Select(_ => random.Next(vocabSize))).ToArray();
        int length = promptLength + WarmupSteps + newTokens + 1;
        using var search = new GeneratorParams(_model);
        search.SetSearchOption("batch_size", batch);
        search.SetSearchOption("do_sample", false);
        search.SetSearchOption("max_length", length);
        search.SetSearchOption("min_length", length); // end-of-text never ends a row early

        using (var warmup = new Generator(_model, search)) warmup.AppendTokens(prompts);
        using var generator = new Generator(_model, search);
        var clock = Stopwatch.StartNew();
        generator.AppendTokens(prompts);
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        for (int i = 0; i < WarmupSteps; i++) generator.GenerateNextToken();
        var times = new double[newTokens];
        for (int i = 0; i < newTokens; i++)
        {
            long t = Stopwatch.GetTimestamp();
            generator.GenerateNextToken();
            times[i] = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
        }
        var sorted = times.Order().ToArray();
        double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        double tokensPerSecond = batch * newTokens / (times.Sum() / 1000);
        return new BenchResult("genai", batch, promptLength, newTokens, prefillMs, P(0.5), P(0.9), tokensPerSecond,
                               HostShare: double.NaN, AllocatedBytesPerStep: double.NaN, DecodeBenchmark.PeakRss(), 0);
    }

    public void Dispose() => _model.Dispose();
}
