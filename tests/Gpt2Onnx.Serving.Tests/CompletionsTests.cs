using System.Text.Json.Nodes;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>
/// POST /v1/completions through raw HTTP: the same text as gpt2-run generate, whole or streamed; n, arrays, logprobs.
/// </summary>
public sealed class CompletionsTests(ServedModels models) : IClassFixture<ServedModels>
{
    private const string Prompt = "the quick brown";

    /// <summary>gpt2-run generate's text and token count for the prompt and seed (temperature 0.9, top-k 20).</summary>
    private static async Task<(string Text, int Tokens)> GenerateAsync(string model, string prompt, int seed)
    {
        var (code, stdout, stderr) = await CliProcess.RunAsync(
            "gpt2-run", "generate", "--model", model, "--prompt", prompt, "--json", "--seed", seed.ToString(),
            "--temperature", "0.9", "--top-k", "20", "--max-new-tokens", "12", "--threads", "1");
        Assert.True(code == 0, stderr);
        var json = JsonNode.Parse(stdout)!;
        return (json["text"]!.GetValue<string>(), json["ids"]!.AsArray().Count);
    }

    private static string Body(string prompt, int seed, bool stream = false, int n = 1, string extra = "") =>
        $$"""
        {"model": "tiny", "prompt": {{JsonValue.Create(prompt).ToJsonString()}}, "max_tokens": 12, "temperature": 0.9,
         "top_k": 20, "seed": {{seed}}, "n": {{n}}, "stream": {{(stream ? "true" : "false")}}{{extra}}}
        """;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_completion_is_the_text_gpt2_run_generate_gives_for_the_same_seed(bool fused)
    {
        string model = fused ? models.Fused : models.Portable;
        var expected = await GenerateAsync(model, Prompt, seed: 5);
        await using var server = await TestServers.StartAsync(model);
        var (status, body) = await Http.PostJsonAsync(server.Client(), "/v1/completions", Body(Prompt, 5));
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body!["object"]!.GetValue<string>());
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(expected.Text, choice["text"]!.GetValue<string>());
        Assert.Contains(choice["finish_reason"]!.GetValue<string>(), new[] { "stop", "length" });
        Assert.Equal(expected.Tokens, body["usage"]!["completion_tokens"]!.GetValue<int>());
        var usage = body["usage"]!;
        Assert.Equal(usage["prompt_tokens"]!.GetValue<int>() + expected.Tokens, usage["total_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_streamed_completion_is_the_same_text_in_pieces_ending_with_done()
    {
        var expected = await GenerateAsync(models.Fused, Prompt, seed: 9);
        await using var server = await TestServers.StartAsync(models.Fused);
        string body = Body(Prompt, 9, stream: true, extra: """, "stream_options": {"include_usage": true}""");
        var (chunks, done) = await Http.StreamAsync(server.Client(), "/v1/completions", body);
        Assert.True(done);
        var pieces = chunks.Where(c => c["choices"]!.AsArray().Count == 1).ToList();
        Assert.True(pieces.Count >= 2, "one chunk per token piece, and a last one with the finish reason");
        Assert.Equal(expected.Text, string.Concat(pieces.Select(c => c["choices"]![0]!["text"]!.GetValue<string>())));
        Assert.All(pieces[..^1], c => Assert.Null(c["choices"]![0]!["finish_reason"]));
        Assert.NotNull(pieces[^1]["choices"]![0]!["finish_reason"]);
        Assert.Equal(expected.Tokens, chunks[^1]["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    [Fact]
    public async Task Choice_i_of_n_is_the_completion_with_the_seed_plus_i()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var client = server.Client();
        var (_, body) = await Http.PostJsonAsync(client, "/v1/completions", Body(Prompt, 40, n: 3));
        var choices = body!["choices"]!.AsArray();
        Assert.Equal([0, 1, 2], choices.Select(c => c!["index"]!.GetValue<int>()));
        for (int i = 0; i < 3; i++)
        {
            var (_, single) = await Http.PostJsonAsync(client, "/v1/completions", Body(Prompt, 40 + i));
            Assert.Equal(single!["choices"]![0]!["text"]!.GetValue<string>(), choices[i]!["text"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task An_array_of_prompts_gives_each_its_choices_in_order_and_echo_prefixes_the_prompt()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var client = server.Client();
        var (_, body) = await Http.PostJsonAsync(client, "/v1/completions",
            """{"prompt": ["hello", "the lazy dog"], "n": 2, "max_tokens": 5, "temperature": 0, "echo": true}""");
        var texts = body!["choices"]!.AsArray().Select(c => c!["text"]!.GetValue<string>()).ToList();
        Assert.Equal(4, texts.Count);
        Assert.StartsWith("hello", texts[0]);
        Assert.StartsWith("hello", texts[1]);
        Assert.StartsWith("the lazy dog", texts[2]);
        Assert.Equal(texts[2], texts[3]); // greedy: both choices of a prompt agree
        var (_, alone) = await Http.PostJsonAsync(client, "/v1/completions",
                                                  """{"prompt": "the lazy dog", "max_tokens": 5, "temperature": 0}""");
        Assert.Equal("the lazy dog" + alone!["choices"]![0]!["text"]!.GetValue<string>(), texts[2]);
    }

    [Fact]
    public async Task Greedy_logprobs_name_the_chosen_token_as_the_most_likely()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var (_, body) = await Http.PostJsonAsync(server.Client(), "/v1/completions",
            """{"prompt": "hello", "max_tokens": 6, "min_tokens": 6, "temperature": 0, "logprobs": 3}""");
        var logprobs = body!["choices"]![0]!["logprobs"]!;
        var chosen = logprobs["token_logprobs"]!.AsArray().Select(l => l!.GetValue<double>()).ToList();
        var tops = logprobs["top_logprobs"]!.AsArray();
        Assert.Equal(6, chosen.Count);
        Assert.Equal(6, logprobs["tokens"]!.AsArray().Count);
        for (int i = 0; i < chosen.Count; i++)
        {
            var top = tops[i]!.AsObject().Select(p => p.Value!.GetValue<double>()).ToList();
            Assert.InRange(top.Count, 1, 3);
            Assert.Equal(top.Max(), chosen[i], 4);
            Assert.True(chosen[i] <= 0);
        }
    }

    [Fact]
    public async Task Models_lists_the_served_model_and_metrics_count_the_requests()
    {
        await using var server = await TestServers.StartAsync(models.Fused);
        var client = server.Client();
        var models_ = JsonNode.Parse(await client.GetStringAsync("/v1/models"))!;
        Assert.Equal("tiny", models_["data"]![0]!["id"]!.GetValue<string>());
        var (_, body) = await Http.PostJsonAsync(client, "/v1/completions",
                                                 """{"prompt": "hello", "max_tokens": 4, "min_tokens": 4}""");
        string metrics = await client.GetStringAsync("/metrics");
        Assert.Contains("gpt2_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 1", metrics);
        Assert.Contains("gpt2_completion_tokens_total 4", metrics);
        Assert.Contains($"gpt2_prompt_tokens_total {body!["usage"]!["prompt_tokens"]}", metrics);
        Assert.Contains("gpt2_time_to_first_token_seconds_count 1", metrics);
        Assert.Contains("gpt2_inter_token_latency_seconds_count 3", metrics);
        Assert.Contains("gpt2_queue_length 0", metrics);
        Assert.Contains("gpt2_batch_occupancy 0", metrics);
    }
}
