using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>
/// gpt2-run generate samples as the model says (genai_config.json's search section), as onnxruntime-genai and
/// Hugging Face do, and the options given change only their part. Before, it always sampled at temperature 1
/// with no top-k, whatever the export said.
/// </summary>
public sealed class DefaultSamplingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<string> Ids(string folder, params string[] options)
    {
        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run",
                                      ["generate", "--model", folder, "--prompt-ids", "5,6,7", "--max-new-tokens", "12",
                                       "--seed", "3", "--json", .. options]);
        Assert.True(exitCode == 0, stderr);
        return JsonNode.Parse(stdout)!["ids"]!.ToJsonString();
    }

    [Fact]
    public async Task Without_sampling_options_generate_samples_as_the_model_says()
    {
        var (_, portable, _) = TinyModel.Export(_dir);
        string genai = Path.Combine(portable, "genai_config.json");
        var config = JsonNode.Parse(File.ReadAllText(genai))!;
        // no generation_config.json in the checkpoint: greedy
        Assert.False(config["search"]!["do_sample"]!.GetValue<bool>());
        Assert.Equal(await Ids(portable, "--greedy"), await Ids(portable));
        // a temperature asks for sampling
        Assert.Equal(await Ids(portable, "--temperature", "1.5", "--top-k", "50"),
                     await Ids(portable, "--temperature", "1.5"));

        config["search"]!["do_sample"] = true;
        config["search"]!["temperature"] = 1.7;
        config["search"]!["top_k"] = 9;
        File.WriteAllText(genai, config.ToJsonString());
        using (var model = LanguageModel.Load(portable))
            Assert.Equal((false, 1.7, 9, 1.0),
                         (model.DefaultSampling.Greedy, model.DefaultSampling.Temperature, model.DefaultSampling.TopK,
                          model.DefaultSampling.TopP));
        Assert.Equal(await Ids(portable, "--temperature", "1.7", "--top-k", "9"), await Ids(portable));
        Assert.Equal(await Ids(portable, "--temperature", "1.7", "--top-k", "0"), await Ids(portable, "--top-k", "0"));
        Assert.NotEqual(await Ids(portable, "--greedy"), await Ids(portable));

        config["search"]!["top_p"] = 1.5;
        File.WriteAllText(genai, config.ToJsonString());
        var error = Assert.Throws<Gpt2OnnxException>(() => LanguageModel.Load(portable));
        Assert.Contains("genai_config.json: in search, top-p must be in (0, 1], not 1.5", error.Message);
    }

    [Fact]
    public async Task Batch_rows_start_from_the_models_sampling_and_a_rows_temperature_asks_for_sampling()
    {
        var (_, portable, _) = TinyModel.Export(_dir); // its search section says greedy
        string input = Path.Combine(_dir, "in.jsonl"), output = Path.Combine(_dir, "out.jsonl");
        File.WriteAllLines(input,
        [
            "{\"id\": \"default\", \"prompt\": \"hello world\", \"max_new_tokens\": 12}",
            "{\"id\": \"greedy\", \"prompt\": \"hello world\", \"max_new_tokens\": 12, \"temperature\": 0}",
            "{\"id\": \"hot\", \"prompt\": \"hello world\", \"max_new_tokens\": 12, \"temperature\": 1.5, \"seed\": 1}",
        ]);
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", "batch", "--model", portable, "--input",
                                                              input, "--output", output);
        Assert.True(exitCode == 0, stderr);
        var rows = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!)
            .ToDictionary(r => r["id"]!.GetValue<string>(), r => r["completion"]!.GetValue<string>());
        Assert.Equal(rows["greedy"], rows["default"]);
        Assert.NotEqual(rows["greedy"], rows["hot"]);
    }
}
