using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.GenAiBench;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;

// genai-bench --model DIR [--model DIR ...] [--batch N --rounds N --threads N --prompt-len N --new-tokens N]
//             [--profile PREFIX]
// Each export is timed through our decoder and through onnxruntime-genai's Generator, alternated round by round
// (forwards, then backwards, as gpt2-run bench does), in one process; prints one JSON object.
var models = new Option<string[]>("--model") { Description = "an export (repeatable)", Required = true };
var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 1 };
var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 3 };
var threads = new Option<int>("--threads") { DefaultValueFactory = _ => 0 };
var promptLength = new Option<int>("--prompt-len") { DefaultValueFactory = _ => 32 };
var newTokens = new Option<int>("--new-tokens") { DefaultValueFactory = _ => 128 };
var profile = new Option<string?>("--profile")
{
    Description = "ONNX Runtime's per-operator traces of both, PREFIX-ours-N_DATE.json and PREFIX-genai-N_DATE.json",
};
var command = new RootCommand("our decoder against onnxruntime-genai's Generator on the same exports")
{
    models, batch, rounds, threads, promptLength, newTokens, profile,
};
command.SetAction(parsed =>
{
    foreach (var count in new[] { batch, rounds, promptLength, newTokens })
        if (parsed.GetValue(count) < 1)
        {
            Console.Error.WriteLine($"genai-bench: {count.Name} must be positive, not {parsed.GetValue(count)}");
            return 1;
        }
    string? trace = parsed.GetValue(profile);
    var ours = new List<LanguageModel>();
    var peers = new List<GenAiDecodeBenchmark>();
    try
    {
        foreach (var folder in parsed.GetValue(models)!)
        {
            string? ourTrace = trace == null ? null : $"{trace}-ours-{ours.Count}";
            string? genAiTrace = trace == null ? null : $"{trace}-genai-{peers.Count}";
            var settings = new SessionSettings { IntraOpThreads = parsed.GetValue(threads), ProfilePrefix = ourTrace };
            ours.Add(LanguageModel.Load(folder, settings));
            peers.Add(new GenAiDecodeBenchmark(folder, parsed.GetValue(threads), genAiTrace));
        }
        int n = ours.Count * 2, b = parsed.GetValue(batch);
        int prompt = parsed.GetValue(promptLength), tokens = parsed.GetValue(newTokens);
        var results = Enumerable.Range(0, n).Select(_ => new List<BenchResult>()).ToArray();
        for (int round = 0; round < parsed.GetValue(rounds); round++)
            for (int k = 0; k < n; k++)
            {
                int i = round % 2 == 0 ? k : n - 1 - k; // row i: model i / 2, ours when even, GenAI's when odd
                var model = ours[i / 2];
                results[i].Add(i % 2 == 0
                    ? DecodeBenchmark.Run(model, b, prompt, tokens, ioBinding: true)
                    : peers[i / 2].Run(b, prompt, tokens, model.VocabSize));
            }
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            batch = b, prompt_len = prompt, new_tokens = tokens, threads = parsed.GetValue(threads),
            peak_rss_bytes = DecodeBenchmark.PeakRss(),
            rows = results.Select((rows, i) =>
            {
                var median = rows.OrderBy(r => r.TokensPerSecond).ElementAt(rows.Count / 2);
                return new
                {
                    model = ours[i / 2].Directory, engine = i % 2 == 0 ? "ours" : "genai",
                    variant = ours[i / 2].Variant,
                    precision = ours[i / 2].Precision, prefill_ms = median.PrefillMs, token_ms_p50 = median.StepMsP50,
                    token_ms_p90 = median.StepMsP90, tokens_per_s = median.TokensPerSecond,
                    rounds_tokens_per_s = rows.Select(r => r.TokensPerSecond),
                    rounds_prompt_to_last_token_per_s = rows.Select(PromptToLastToken),
                };
            }),
        }));
        return 0;
    }
    catch (Exception e) when (e is Gpt2OnnxException or Microsoft.ML.OnnxRuntimeGenAI.OnnxRuntimeGenAIException)
    {
        Console.Error.WriteLine($"genai-bench: {e.Message}");
        return 1;
    }
    finally
    {
        foreach (var model in ours) model.Dispose();
        foreach (var peer in peers) peer.Dispose();
    }
});
return command.Parse(args).Invoke();

// New tokens per second from the prompt to the last token: the prefill and the timed steps together (a user's
// wait for the whole answer, where the prefill's work counts as well as the steps').
static double PromptToLastToken(BenchResult r)
{
    double tokens = (double)r.Batch * r.NewTokens;
    return tokens / (r.PrefillMs / 1000 + tokens / r.TokensPerSecond);
}
