using System.Text.Json.Nodes;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>
/// gpt2-run bench times one model, or several models and peers side by side in one process, alternating
/// over rounds (the benchmark script's speed ratios come from the latter).
/// </summary>
public sealed class BenchCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _portable, _fused;

    public BenchCommandTests() => (_, _portable, _fused) = TinyModel.Export(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Short = ["--prompt-len", "8", "--new-tokens", "16", "--threads", "1", "--json"];

    [Fact]
    public async Task Models_and_peers_are_timed_side_by_side_with_every_round_reported()
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run",
            ["bench", "--model", _portable, "--model", _fused, "--peer", _portable, "--rounds", "3", .. Short]);
        Assert.True(exitCode == 0, stderr);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal(3, result["rounds"]!.GetValue<int>());
        Assert.Equal(3, result["memory_bytes_per_s"]!.AsArray().Count);
        var rows = result["rows"]!.AsArray();
        Assert.Equal([(_portable, "model", "io-binding", "portable"), (_fused, "model", "io-binding", "fused"),
                      (_portable, "peer", "plain-run", "portable")],
                     rows.Select(r => (r!["model"]!.GetValue<string>(), r["role"]!.GetValue<string>(),
                                       r["mode"]!.GetValue<string>(), r["variant"]!.GetValue<string>())));
        foreach (var row in rows)
        {
            var rounds = row!["rounds_tokens_per_s"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            Assert.Equal(3, rounds.Length);
            Assert.All(rounds, v => Assert.True(v > 0));
            // Each row is its median round.
            Assert.Equal(rounds.Order().ElementAt(1), row["tokens_per_s"]!.GetValue<double>());
            Assert.Equal(3, row["rounds_token_ms_p50"]!.AsArray().Count);
            Assert.True(row["weights_read_per_step_bytes"]!.GetValue<long>() > 0);
            Assert.True(row["roofline_fraction"]!.GetValue<double>() > 0);
        }
        // the peer's Run hands back new tensors each step
        Assert.True(rows[2]!["allocated_bytes_per_step"]!.GetValue<double>() > 0);
    }

    [Fact]
    public async Task One_model_prints_its_own_figures_and_the_memory_floor()
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", ["bench", "--model", _fused, .. Short]);
        Assert.True(exitCode == 0, stderr);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal(("io-binding", "fused", 1, 16),
                     (result["mode"]!.GetValue<string>(), result["variant"]!.GetValue<string>(),
                                                      result["batch"]!.GetValue<int>(),
                                                      result["new_tokens"]!.GetValue<int>()));
        Assert.True(result["peak_rss_bytes"]!.GetValue<long>() > 0);
        Assert.True(result["weights_read_ms"]!.GetValue<double>() > 0);
    }

    [Fact]
    public async Task Each_graph_reports_the_weights_a_step_reads_its_roofline_and_the_share_of_it_reached()
    {
        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", ["bench", "--model", _fused, "--batch", "2", .. Short]);
        Assert.True(exitCode == 0, stderr);
        var result = JsonNode.Parse(stdout)!;
        double Number(string key) => result[key]!.GetValue<double>();
        long bytes = result["weights_read_per_step_bytes"]!.GetValue<long>();
        Assert.Equal(Gpt2Onnx.Runtime.Onnx.WeightTraffic.PerDecodeStep(Path.Combine(_fused, "model.onnx")), bytes);
        // Each step reads the weights once for both sequences: 2 tokens per bytes / bandwidth seconds at best.
        Assert.Equal(2 * Number("memory_bytes_per_s") / bytes, Number("roofline_tokens_per_s"), 6);
        Assert.Equal(Number("tokens_per_s") / Number("roofline_tokens_per_s"), Number("roofline_fraction"), 6);
        // No upper bound: a tiny model's weights stay in the caches, which read faster than the measured memory.
        Assert.True(Number("roofline_fraction") > 0);
    }

    [Fact]
    public async Task With_products_each_model_reports_its_weight_products_alone_for_every_round()
    {
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run",
            ["bench", "--model", _fused, "--peer", _portable, "--rounds", "3", "--products", .. Short]);
        Assert.True(exitCode == 0, stderr);
        var rows = JsonNode.Parse(stdout)!["rows"]!.AsArray();
        var rounds = rows[0]!["rounds_products_ms"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        Assert.Equal(3, rounds.Length);
        Assert.All(rounds, ms => Assert.True(ms > 0));
        Assert.Equal(rounds.Order().ElementAt(1), rows[0]!["products_ms"]!.GetValue<double>());
        // A peer is timed as an application runs it; its products are not ours to time.
        Assert.Null(rows[1]!["products_ms"]);
        Assert.Null(rows[1]!["rounds_products_ms"]);

        (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run",
            ["bench", "--model", _fused, "--products", .. Short.SkipLast(1)]);
        Assert.True(exitCode == 0, stderr);
        Assert.Matches(@"\nweight products alone \(9 nodes fed from inputs\): \d+\.\d\d ms a run, " +
                       @"\d+ ?% of the step's p50", stdout);
    }

    [Fact]
    public async Task Rounds_below_one_are_a_usage_error()
    {
        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", ["bench", "--model", _fused, "--rounds", "0", .. Short]);
        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Equal(["error: --rounds must be positive, not 0", "run 'gpt2-run bench --help' for usage"],
                     stderr.TrimEnd('\n').Split('\n'));
    }
}
