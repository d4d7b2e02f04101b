using System.CommandLine;
using Gpt2Onnx.Cli;
using System.Diagnostics;
using System.Text.Json;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary>
/// <c>gpt2-train bench</c>: the cost of the binding (one native call, one small operation) and of one
/// GPT-2 training step (forward, backward, clipping, AdamW) on random tokens, with the matmul peak of this
/// machine for MFU. scripts/bench.sh runs the same step written in PyTorch beside it.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "preset or config.json", DefaultValueFactory = _ => "small-6x384" };
        var vocab = new Option<int>("--vocab-size") { Description = "vocabulary size", DefaultValueFactory = _ => 50257 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var context = new Option<int>("--context") { DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "timed steps (after 2 warm-up steps)", DefaultValueFactory = _ => 5 };
        var threads = ThreadsOption.Create("libtorch threads", Environment.ProcessorCount, zeroIsEveryCore: false);
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var command = new Command("bench", "measure the binding's call overhead and a training step") { config, vocab, batchSize, context, steps, threads, json };
        command.SetAction(parsed =>
        {
            TorchLibrary.Threads = parsed.GetValue(threads);
            double callUs = CallOverheadMicroseconds();
            double opUs = SmallOpMicroseconds();
            double peak = MatmulGflops();
            var cfg = ModelPresets.Resolve(parsed.GetValue(config)!) with { VocabSize = parsed.GetValue(vocab) };
            int b = parsed.GetValue(batchSize), t = parsed.GetValue(context);
            var times = StepTimes(cfg, b, t, parsed.GetValue(steps));
            double median = times.Order().ElementAt(times.Count / 2);
            double tokensPerSecond = b * t / median;
            // Training FLOPs per token: 6 per parameter plus the attention matmuls (PaLM's estimate).
            double flopsPerToken = 6.0 * cfg.ParameterCount + 12.0 * cfg.NLayer * t * cfg.NEmbd;
            double mfu = tokensPerSecond * flopsPerToken / (peak * 1e9);
            var result = new { call_overhead_us = callUs, small_op_us = opUs, step_ms = median * 1000, step_ms_all = times.Select(x => x * 1000).ToArray(),
                               tokens_per_s = tokensPerSecond, matmul_gflops = peak, mfu, threads = TorchLibrary.Threads };
            if (parsed.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(result));
            else Console.WriteLine($"native call {callUs:F3} µs, small op {opUs:F2} µs; step {median * 1000:F0} ms ({tokensPerSecond:N0} tok/s), matmul peak {peak:F0} GFLOP/s, MFU {mfu:P1}");
            return 0;
        });
        return command;
    }

    private static double CallOverheadMicroseconds()
    {
        using var x = Tensor.Ones([1]);
        const int calls = 1_000_000;
        long sink = 0;
        for (int i = 0; i < 10_000; i++) sink += x.NumberOfElements;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < calls; i++) sink += x.NumberOfElements;
        GC.KeepAlive(sink);
        return clock.Elapsed.TotalMicroseconds / calls;
    }

    private static double SmallOpMicroseconds()
    {
        using var a = Tensor.Ones([1]);
        using var b = Tensor.Ones([1]);
        const int ops = 100_000;
        var clock = new Stopwatch();
        for (int round = 0; round < 2; round++)
        {
            clock.Restart();
            for (int i = 0; i < ops; i += 1000)
            {
                using var scope = DisposeScope.Enter();
                for (int j = 0; j < 1000; j++) _ = a + b;
            }
        }
        return clock.Elapsed.TotalMicroseconds / ops;
    }

    private static double MatmulGflops()
    {
        const int n = 1024;
        using var scope = DisposeScope.Enter();
        var a = Tensor.Randn([n, n]);
        var b = Tensor.Randn([n, n]);
        for (int i = 0; i < 3; i++) a.MatMul(b);
        var clock = Stopwatch.StartNew();
        const int reps = 20;
        for (int i = 0; i < reps; i++)
        {
            using var inner = DisposeScope.Enter();
            a.MatMul(b);
        }
        return 2.0 * n * n * n * reps / clock.Elapsed.TotalSeconds / 1e9;
    }

    private static List<double> StepTimes(Exporter.Checkpoints.Gpt2Config config, int batch, int context, int steps)
    {
        using var model = Gpt2Model.Create(config, seed: 0);
        model.Training = true;
        var parameters = model.Parameters.Select(p => p.Tensor).ToList();
        using var optimizer = new AdamW(parameters, parameters.Select(p => p.Dimensions >= 2 ? 0.1 : 0).ToList());
        var random = new Random(0);
        var times = new List<double>();
        for (int step = 0; step < steps + 2; step++)
        {
            var tokens = Enumerable.Range(0, batch * (context + 1)).Select(_ => (long)random.Next(config.VocabSize)).ToArray();
            var inputs = new long[batch * context];
            var targets = new long[batch * context];
            for (int r = 0; r < batch; r++)
            {
                Array.Copy(tokens, r * (context + 1), inputs, r * context, context);
                Array.Copy(tokens, r * (context + 1) + 1, targets, r * context, context);
            }
            var clock = Stopwatch.StartNew();
            using (DisposeScope.Enter())
            {
                var loss = model.Loss(Tensor.From<long>(inputs, batch, context), Tensor.From<long>(targets, batch, context));
                loss.Backward();
                Autograd.ClipGradNorm(parameters, 1.0);
                optimizer.Update(3e-4);
                Autograd.ZeroGrad(parameters);
            }
            if (step >= 2) times.Add(clock.Elapsed.TotalSeconds);
        }
        return times;
    }
}
