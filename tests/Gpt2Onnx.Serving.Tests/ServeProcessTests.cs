using System.Diagnostics;
using System.Text.RegularExpressions;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>gpt2-run serve as a process: what it says at start, and SIGTERM ending it with exit code 0.</summary>
public sealed class ServeProcessTests(ServedModels models) : IClassFixture<ServedModels>
{
    private static readonly TimeSpan Deadlock = TimeSpan.FromMinutes(2);

    /// <summary>Starts the server on a free port; returns it, its address, and what it printed until then.</summary>
    private static async Task<(Process Server, Uri Address, List<string> Lines)> StartAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(RepositoryRoot.Path, "scripts", "gpt2-run"))
        {
            RedirectStandardError = true, RedirectStandardOutput = true,
        };
        foreach (var argument in (string[])["serve", "--port", "0", "--threads", "1", .. arguments])
            start.ArgumentList.Add(argument);
        var server = Process.Start(start)!;
        var lines = new List<string>();
        while (await server.StandardError.ReadLineAsync().WaitAsync(Deadlock) is { } line)
        {
            lines.Add(line);
            var match = Regex.Match(line, @"on (http://127\.0\.0\.1:\d+)");
            if (match.Success)
            {
                lines.Add((await server.StandardError.ReadLineAsync())!); // the batching line
                return (server, new Uri(match.Groups[1].Value), lines);
            }
        }
        throw new InvalidOperationException("the server ended before it listened: " + string.Join(" | ", lines));
    }

    private static void Terminate(Process server) =>
        Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();

    [Fact]
    public async Task Sigterm_ends_a_stream_in_flight_by_the_deadline_and_exits_0()
    {
        var (server, address, lines) = await StartAsync("--model", models.LongContext, "--shutdown-timeout", "0.5");
        using var _ = server;
        Assert.Contains(lines, l => l.Contains("continuous batching"));
        using var client = new HttpClient { BaseAddress = address };
        var (status, _) = await Http.PostJsonAsync(client, "/v1/completions", """{"prompt": "hi", "max_tokens": 3}""");
        Assert.Equal(200, status);
        const string Long = """{"prompt": "hi", "max_tokens": 4000, "min_tokens": 4000, "stream": true}""";
        using var stream = await client.SendAsync(Http.Post("/v1/completions", Long),
                                                  HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        Terminate(server);
        // The stream ends (cancelled at the deadline, or finished): reading it to the end returns.
        try { await reader.ReadToEndAsync().WaitAsync(Deadlock); }
        catch (HttpRequestException) { } // the connection closed under the read
        catch (IOException) { }
        await server.WaitForExitAsync().WaitAsync(Deadlock);
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("serve: stopped", await server.StandardError.ReadToEndAsync());
    }

    [Fact]
    public async Task A_portable_graph_is_served_in_static_batches_and_says_so()
    {
        var (server, address, lines) = await StartAsync("--model", models.Portable);
        using var _ = server;
        Assert.Contains(lines, l => l.Contains("static batches"));
        using var client = new HttpClient { BaseAddress = address };
        var (status, _) = await Http.PostJsonAsync(client, "/v1/completions", """{"prompt": "hi", "max_tokens": 3}""");
        Assert.Equal(200, status);
        Terminate(server);
        await server.WaitForExitAsync().WaitAsync(Deadlock);
        Assert.Equal(0, server.ExitCode);
    }
}
