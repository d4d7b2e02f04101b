using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run bench</c>: prefill time, per-token latency, throughput, host share, allocations and peak RSS.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var batch = new Option<int>("--batch") { Description = "sequences decoded together", DefaultValueFactory = _ => 1 };
        var promptLength = new Option<int>("--prompt-len") { Description = "prompt tokens per sequence", DefaultValueFactory = _ => 32 };
        var newTokens = new Option<int>("--new-tokens") { Description = "tokens generated per sequence (timed)", DefaultValueFactory = _ => 128 };
        var noBinding = new Option<bool>("--no-io-binding") { Description = "measure the plain Run loop an application writes without IO binding (the peer)" };
        var json = new Option<bool>("--json") { Description = "print one JSON object" };
        var command = new Command("bench", "measure generation speed on random prompts") { batch, promptLength, newTokens, noBinding, json };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            foreach (var count in new[] { batch, promptLength, newTokens })
                Gpt2Onnx.Cli.CliHost.Require(parsed.GetValue(count) > 0, $"{count.Name} must be positive, not {parsed.GetValue(count)}");
            using var languageModel = model.Load(parsed);
            var r = DecodeBenchmark.Run(languageModel, parsed.GetValue(batch), parsed.GetValue(promptLength), parsed.GetValue(newTokens), !parsed.GetValue(noBinding));
            // The roofline at batch 1: every step reads every weight once, so no step can beat this.
            long weightBytes = Directory.EnumerateFiles(languageModel.Directory, "model.onnx*").Sum(f => new FileInfo(f).Length);
            double bandwidth = MemoryBandwidth.Measure(parsed.GetValue(model.Threads));
            double weightsReadMs = weightBytes / bandwidth * 1000;
            if (parsed.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    mode = r.Mode, variant = languageModel.Variant, precision = languageModel.Precision, batch = r.Batch, prompt_len = r.PromptLength,
                    new_tokens = r.NewTokens, prefill_ms = r.PrefillMs, token_ms_p50 = r.StepMsP50, token_ms_p90 = r.StepMsP90,
                    tokens_per_s = r.TokensPerSecond, host_share = r.HostShare, allocated_bytes_per_step = r.AllocatedBytesPerStep, peak_rss_bytes = r.PeakRssBytes,
                    rss_growth_bytes = r.RssGrowthBytes, weight_bytes = weightBytes, memory_bytes_per_s = bandwidth, weights_read_ms = weightsReadMs,
                }));
            }
            else
            {
                Console.WriteLine($"{languageModel.Variant} {languageModel.Precision}, {r.Mode}, batch {r.Batch}: prefill {r.PrefillMs:F1} ms; step p50 {r.StepMsP50:F2} ms, p90 {r.StepMsP90:F2} ms; " +
                                  $"{r.TokensPerSecond:F1} tokens/s; host {r.HostShare:P1} of each step; {r.AllocatedBytesPerStep:F0} B allocated per step; peak RSS {r.PeakRssBytes / 1e6:F0} MB, " +
                                  $"RSS growth over the timed steps {r.RssGrowthBytes / 1e6:F1} MB");
                Console.WriteLine($"memory floor: reading the {weightBytes / 1e6:F0} MB of weights once takes {weightsReadMs:F2} ms at the {bandwidth / 1e9:F1} GB/s measured here");
            }
            return 0;
        });
        return command;
    }
}
