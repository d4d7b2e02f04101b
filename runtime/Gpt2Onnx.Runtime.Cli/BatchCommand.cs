using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Batch;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run batch</c>: a resumable, shardable JSONL generation job with continuous batching.</summary>
internal static class BatchCommand
{
    public static Command Create()
    {
        var model = new ModelFlags();
        var input = new Option<string>("--input")
        {
            Description = "JSONL rows {\"id\", \"prompt\", optional max_new_tokens, min_new_tokens, " +
                          "temperature, top_k, top_p, repetition_penalty, presence_penalty, frequency_penalty, seed, " +
                          "stop}; - reads standard input (a stream is copied to a temporary file first, up to half " +
                          "the free space there)",
            Required = true,
        };
        var output = new Option<string>("--output")
        {
            Description = "JSONL results, appended; rerunning skips ids already there (a file that is not a job's " +
                          "results is refused)",
            Required = true,
        };
        var retryErrors = new Option<bool>("--retry-errors")
        {
            Description = "run again the rows the output holds as errors (their error lines are taken out first)",
        };
        var maxBatch = new Option<int>("--max-batch") { Description = "sequences decoded together",
                                                        DefaultValueFactory = _ => 16 };
        var maxLength = new Option<int>("--max-length") { Description = "tokens per sequence the cache holds (0 = " +
                                                                        "what the longest row needs: its prompt and " +
                                                                        "new tokens)", DefaultValueFactory = _ => 0 };
        var shard = new Option<string>("--shard") { Description = "i/N: process only the rows of shard i of N (by a " +
                                                                  "hash of the id)", DefaultValueFactory = _ => "0/1" };
        var onError = new Option<string>("--on-error") { Description = "skip: report malformed rows and go on; stop: " +
                                                                       "refuse to start", DefaultValueFactory = _ =>
                                                                           "stop" };
        onError.AcceptOnlyFromAmong("skip", "stop");
        var staticBatching = new Option<bool>("--static") { Description = "static batches instead of continuous " +
                                                                          "batching (for comparison)" };
        var maxNewTokens = new Option<int>("--max-new-tokens")
        {
            Description = "default for rows without max_new_tokens; up to the model's context length (the default " +
                          "is cut to it), as for each row's, or the row is written as an error",
            DefaultValueFactory = _ => SamplingDefaults.MaxNewTokens,
        };
        var temperature = new Option<double?>("--temperature") { Description = "default for rows without temperature " +
                                                                               "(0 = greedy) [default: the model's]" };
        var json = new Option<bool>("--json") { Description = "print the summary as one JSON object" };
        var command = new Command("batch", "generate completions for a JSONL file of prompts (resumable, shardable)")
        {
            input, output, retryErrors, maxBatch, maxLength, shard, onError, staticBatching, maxNewTokens, temperature,
            json,
        };
        model.AddTo(command);
        command.SetAction(parsed =>
        {
            var parts = parsed.GetValue(shard)!.Split('/');
            CliHost.Require(parts.Length == 2 && int.TryParse(parts[0], out _) && int.TryParse(parts[1], out _),
                            "--shard takes i/N, for example 0/4");
            CliHost.Require(parsed.GetValue(maxBatch) >= 1, "--max-batch must be at least 1");
            using var languageModel = model.Load(parsed);
            var summary = BatchJob.Run(languageModel, new BatchJobOptions
            {
                Input = parsed.GetValue(input)!,
                Output = parsed.GetValue(output)!,
                MaxBatch = parsed.GetValue(maxBatch),
                MaxLength = parsed.GetValue(maxLength),
                ShardIndex = int.Parse(parts[0]),
                ShardCount = int.Parse(parts[1]),
                SkipErrors = parsed.GetValue(onError) == "skip",
                RetryErrors = parsed.GetValue(retryErrors),
                Continuous = !parsed.GetValue(staticBatching),
                // Rows start from how the model samples (genai_config.json's search section); a temperature given asks
                // for sampling.
                Defaults = languageModel.DefaultSampling.WithSampling(temperature: parsed.GetValue(temperature)) with
                {
                    MaxNewTokens = SamplingFlags.CountWithin(parsed, maxNewTokens, languageModel.ContextLength),
                },
            }, Console.Error);
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    rows = summary.Rows, skipped = summary.Skipped, written = summary.Written, errors = summary.Errors,
                    tokens = summary.Tokens,
                    seconds = summary.Seconds, tokens_per_s = summary.TokensPerSecond, continuous = summary.Continuous,
                    peak_rss_bytes = DecodeBenchmark.PeakRss(),
                }));
            else
                Console.Error.WriteLine($"batch: {summary.Written} rows written ({summary.Skipped} already done, " +
                                        $"{summary.Errors} errors), {summary.Tokens:N0} tokens in " +
                                        $"{summary.Seconds:F1} s ({summary.TokensPerSecond:F1} tokens/s, " +
                                        $"{(summary.Continuous ? "continuous" : "static")} batching)");
            return 0;
        });
        return command;
    }
}
