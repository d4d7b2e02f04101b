using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using Gpt2Onnx.Trainer.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary>
/// <c>gpt2-train bench</c>: one GPT-2 training step (forward, backward, clipping, AdamW, as the training loop
/// runs it) on random tokens, in fp32 or with --bf16, and this machine's matrix-product peak in fp32 and bf16
/// for MFU. scripts/bench.sh runs the same step written in PyTorch beside it.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config")
        {
            Description = "preset or config.json", DefaultValueFactory = _ => "small-6x384",
        };
        var vocab = new Option<int>("--vocab-size") { Description = "vocabulary", DefaultValueFactory = _ => 50257 };
        var batchSize = new Option<int>("--batch-size") { DefaultValueFactory = _ => 8 };
        var context = new Option<int>("--context") { DefaultValueFactory = _ => 256 };
        var steps = new Option<int>("--steps") { Description = "steps timed after 2", DefaultValueFactory = _ => 5 };
        var threads = ThreadsOption.Create("libtorch threads", Environment.ProcessorCount, zeroIsEveryCore: false);
        var bf16 = new Option<bool>("--bf16") { Description = "mixed precision, as gpt2-train train --bf16" };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var command = new Command("bench", "measure a training step and the matrix-product peak")
        {
            config, vocab, batchSize, context, steps, threads, bf16, json,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Threads = parsed.GetValue(threads);
            var cfg = ModelPresets.Resolve(parsed.GetValue(config)!) with { VocabSize = parsed.GetValue(vocab) };
            int b = parsed.GetValue(batchSize), t = parsed.GetValue(context);
            var precision = parsed.GetValue(bf16) ? ScalarType.BFloat16 : ScalarType.Float32;
            double peakFp32 = MatmulGflops(ScalarType.Float32), peakBf16 = MatmulGflops(ScalarType.BFloat16);
            var times = StepTimes(cfg, b, t, parsed.GetValue(steps), precision);
            double median = times.Order().ElementAt(times.Count / 2);
            double tokensPerSecond = b * t / median;
            // Training FLOPs per token: 6 per parameter plus the attention products (PaLM's estimate).
            double flopsPerToken = 6.0 * cfg.ParameterCount + 12.0 * cfg.NLayer * t * cfg.NEmbd;
            double peak = precision == ScalarType.BFloat16 ? peakBf16 : peakFp32;
            double mfu = tokensPerSecond * flopsPerToken / (peak * 1e9);
            var result = new
            {
                precision = precision == ScalarType.BFloat16 ? "bf16" : "fp32",
                step_ms = median * 1000,
                step_ms_all = times.Select(x => x * 1000).ToArray(),
                tokens_per_s = tokensPerSecond,
                achieved_gflops = tokensPerSecond * flopsPerToken / 1e9,
                matmul_gflops_fp32 = peakFp32,
                matmul_gflops_bf16 = peakBf16,
                mfu,
                threads = TorchRuntime.Threads,
                libtorch = TorchRuntime.Version,
            };
            if (parsed.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(result));
            else Console.WriteLine($"{result.precision} step {median * 1000:F0} ms ({tokensPerSecond:N0} tok/s); " +
                                   $"matmul peak fp32 {peakFp32:F0}, bf16 {peakBf16:F0} GFLOP/s; " +
                                   $"MFU {mfu:P1} of the {result.precision} peak");
            return 0;
        });
        return command;
    }

    /// <summary>The best of five 2048² products in GFLOP/s: the most the step's matrix products could reach.</summary>
    private static double MatmulGflops(ScalarType type)
    {
        const int n = 2048;
        using var scope = NewDisposeScope();
        var a = randn(n, n).to_type(type);
        var b = randn(n, n).to_type(type);
        a.matmul(b);
        double best = 0;
        for (int i = 0; i < 5; i++)
        {
            using var inner = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            a.matmul(b);
            best = Math.Max(best, 2.0 * n * n * n / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    private static List<double> StepTimes(Gpt2Config config, int batch, int context, int steps, ScalarType precision)
    {
        using var model = Gpt2Model.Create(config, seed: 0);
        model.train();
        model.ComputeType = precision;
        using var optimizer = new Gpt2Optimizer(model.Parameters.ToList(), weightDecay: 0.1);
        var random = new Random(0);
        var times = new List<double>();
        var inputs = new long[batch * context];
        var targets = new long[batch * context];
        for (int step = 0; step < steps + 2; step++)
        {
            for (int r = 0; r < batch; r++)
            {
                var tokens = Enumerable.Range(0, context + 1)
                    .Select(_ => (long)random.Next(config.VocabSize)).ToArray();
                Array.Copy(tokens, 0, inputs, r * context, context);
                Array.Copy(tokens, 1, targets, r * context, context);
            }
            var clock = Stopwatch.StartNew();
            using (NewDisposeScope())
            {
                var loss = model.Loss(tensor(inputs, [batch, context]), tensor(targets, [batch, context]));
                loss.backward();
                nn.utils.clip_grad_norm_(optimizer.Trainable, 1.0);
                optimizer.Step(3e-4);
                optimizer.ZeroGrad();
            }
            if (step >= 2) times.Add(clock.Elapsed.TotalSeconds);
        }
        return times;
    }
}
