using System.Text.Json.Nodes;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// gpt2-train sample and gpt2-run generate start from the same sampling, the checkpoint's generation_config.json
/// (which the export's genai_config.json repeats), so without options they give the same tokens.
/// </summary>
public sealed class SampleCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Without_options_sample_and_generate_both_sample_as_generation_config_says()
    {
        var (checkpoint, _, _) = TinyModel.Export(_dir);
        File.WriteAllText(Path.Combine(checkpoint, "generation_config.json"),
                          "{\"eos_token_id\": 0, \"do_sample\": true, \"temperature\": 1.3, \"top_k\": 7}");
        string onnx = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, onnx, new ExportOptions());

        async Task<string> Ids(string tool, params string[] arguments)
        {
            var (exitCode, stdout, stderr) =
                await CliProcess.RunAsync(tool,
                                          [.. arguments, "--prompt", "hello world", "--max-new-tokens", "10", "--seed",
                                           "11", "--json"]);
            Assert.True(exitCode == 0, stderr);
            return JsonNode.Parse(stdout)!["ids"]!.ToJsonString();
        }
        string sampled = await Ids("gpt2-train", "sample", "--checkpoint", checkpoint);
        Assert.Equal(sampled, await Ids("gpt2-run", "generate", "--model", onnx));
        Assert.Equal(sampled, await Ids("gpt2-train", "sample", "--checkpoint", checkpoint, "--temperature", "1.3",
                                        "--top-k", "7"));
        Assert.NotEqual(sampled, await Ids("gpt2-train", "sample", "--checkpoint", checkpoint, "--greedy"));
    }
}
