using System.Text.RegularExpressions;
using Gpt2Onnx.Runtime.Cli.Serving;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>
/// The shared batch under pressure, on a real loopback port: a client that leaves frees its slot, and a full queue
/// answers 429 with Retry-After. A one-slot server on a long-context model, so the first request is still running
/// (4,000 tokens) when the test acts.
/// </summary>
public sealed class SlotTests(ServedModels models) : IClassFixture<ServedModels>
{
    private static readonly TimeSpan Deadlock = TimeSpan.FromMinutes(2); // a hang fails the test, not the whole run

    private const string Short = """{"prompt": "hi", "max_tokens": 3, "min_tokens": 3}""";

    private const string Long = """{"prompt": "hello", "max_tokens": 4000, "min_tokens": 4000, "stream": true}""";

    /// <summary>Starts the long streaming request; returns once its first chunk came: it holds the only slot.</summary>
    private static async Task<HttpResponseMessage> HoldTheSlotAsync(HttpClient client)
    {
        var response = await client.SendAsync(Http.Post("/v1/completions", Long),
                                              HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        return response;
    }

    private static async Task<double> MetricAsync(HttpClient client, string name)
    {
        var match = Regex.Match(await client.GetStringAsync("/metrics"), $"^{name} (\\S+)$", RegexOptions.Multiline);
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task A_client_that_disconnects_frees_its_slot_for_the_next_request()
    {
        var options = new ServerOptions { ModelName = "tiny", MaxBatch = 1 };
        await using var server = await TestServers.StartAsync(models.LongContext, options, loopback: true);
        var client = server.Client();
        using (await HoldTheSlotAsync(client)) { } // leaving mid-stream closes the connection
        var (status, body) = await Http.PostJsonAsync(client, "/v1/completions", Short).WaitAsync(Deadlock);
        Assert.Equal(200, status);
        Assert.Equal(3, body!["usage"]!["completion_tokens"]!.GetValue<int>());
        Assert.Equal(1, await MetricAsync(client, "gpt2_cancelled_sequences_total"));
        // The long one ended early: its tokens and the short one's are fewer than its 4,000.
        Assert.InRange(await MetricAsync(client, "gpt2_completion_tokens_total"), 4, 3 + 3999);
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after_and_the_queued_request_still_runs()
    {
        var options = new ServerOptions { ModelName = "tiny", MaxBatch = 1, MaxQueue = 1 };
        await using var server = await TestServers.StartAsync(models.LongContext, options, loopback: true);
        var client = server.Client();
        var running = await HoldTheSlotAsync(client);
        var queued = Http.PostJsonAsync(client, "/v1/completions", Short);
        // Waits (boundedly) until the second request is in the queue: the third then finds it full.
        for (int poll = 0; poll < 1000 && await MetricAsync(client, "gpt2_queue_length") < 1; poll++)
            await Task.Delay(10);
        Assert.Equal(1, await MetricAsync(client, "gpt2_queue_length"));
        Assert.Equal(1, await MetricAsync(client, "gpt2_running_sequences")); // the long one still holds the slot
        using var refused = await client.SendAsync(Http.Post("/v1/completions", Short));
        Assert.Equal(429, (int)refused.StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Contains("rate_limit_error", await refused.Content.ReadAsStringAsync());
        running.Dispose(); // the slot frees, and the queued request runs
        var (status, _) = await queued.WaitAsync(Deadlock);
        Assert.Equal(200, status);
    }
}
