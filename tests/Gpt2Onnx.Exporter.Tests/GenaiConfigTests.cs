using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// genai_config.json as onnxruntime-genai reads it: its reader refuses any key it does not know, so the
/// file holds only keys of its schema, and every graph name it gives is one the graph has.
/// </summary>
public sealed class GenaiConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Dictionary<string, string[]> Schema = new()
    {
        [""] = ["model", "search"],
        ["model"] = ["type", "bos_token_id", "eos_token_id", "pad_token_id", "vocab_size", "context_length", "decoder"],
        ["model.decoder"] = ["filename", "session_options", "head_size", "hidden_size", "num_attention_heads",
                             "num_key_value_heads",
                             "num_hidden_layers", "inputs", "outputs"],
        ["model.decoder.session_options"] = ["log_id", "provider_options"],
        ["model.decoder.inputs"] = ["input_ids", "attention_mask", "position_ids", "past_key_names",
                                    "past_value_names"],
        ["model.decoder.outputs"] = ["logits", "present_key_names", "present_value_names"],
        ["search"] = ["do_sample", "max_length", "min_length", "num_beams", "num_return_sequences",
                      "past_present_share_buffer",
                      "repetition_penalty", "temperature", "top_k", "top_p"],
    };

    private static void CheckKeys(JsonObject node, string path)
    {
        Assert.True(Schema.ContainsKey(path), $"'{path}' is not an object onnxruntime-genai reads");
        foreach (var (key, value) in node)
        {
            Assert.Contains(key, Schema[path]);
            if (value is JsonObject child) CheckKeys(child, path.Length == 0 ? key : $"{path}.{key}");
        }
    }

    [Theory]
    [InlineData(GraphVariant.Portable, Precision.Fp32)]
    [InlineData(GraphVariant.Fused, Precision.Int4)]
    [InlineData(GraphVariant.Fused, Precision.Fp16)]
    public void The_config_holds_only_onnxruntime_genai_keys_and_names_what_the_graph_has(GraphVariant variant,
                                                                                          Precision precision)
    {
        var config = TinyCheckpoint.Config();
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), config, seed: 2);
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output, new ExportOptions { Variant = variant, Precision = precision });
        var genai = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "genai_config.json")))!;
        CheckKeys(genai, "");

        using var session = new ModelSession(Path.Combine(output, OnnxExporter.ModelFile));
        var decoder = genai["model"]!["decoder"]!;
        string Name(string template, int layer) => template.Replace("%d", layer.ToString());
        var inputs = decoder["inputs"]!.AsObject();
        foreach (var key in new[] { "input_ids", "attention_mask", "position_ids" })
            Assert.NotNull(session.Input(inputs[key]!.GetValue<string>()));
        Assert.Equal(session.Inputs.Select(i => i.Name).Order(),
            new[] { "input_ids", "attention_mask",
                    "position_ids" }.Concat(Enumerable.Range(0, config.NLayer).SelectMany(i =>
                new[] { Name(inputs["past_key_names"]!.GetValue<string>(), i),
                        Name(inputs["past_value_names"]!.GetValue<string>(), i) })).Order());
        var outputs = decoder["outputs"]!.AsObject();
        Assert.Equal(session.Outputs.Select(o => o.Name).Order(),
            new[] { outputs["logits"]!.GetValue<string>() }.Concat(Enumerable.Range(0, config.NLayer).SelectMany(i =>
                new[] { Name(outputs["present_key_names"]!.GetValue<string>(), i),
                        Name(outputs["present_value_names"]!.GetValue<string>(), i) })).Order());
        Assert.Equal(variant == GraphVariant.Fused, genai["search"]!["past_present_share_buffer"]!.GetValue<bool>());
        Assert.Equal(variant == GraphVariant.Fused ? "true" : "false",
                     session.Metadata["gpt2onnx.past_present_share_buffer"]);
        Assert.Equal(precision.ToString().ToLowerInvariant(), session.Metadata["gpt2onnx.precision"]);
    }

    [Theory]
    [InlineData(null, false, 1.0, 50, 1.0)] // no generation_config.json: Hugging Face's defaults, greedy
    [InlineData("{\"do_sample\": true, \"temperature\": 0.8, \"top_k\": 40, \"top_p\": 0.95}", true, 0.8, 40, 0.95)]
    public void The_search_section_says_what_generation_config_says(string? generationConfig, bool doSample,
                                                                    double temperature, int topK, double topP)
    {
        // Before, it always said greedy, so onnxruntime-genai and Hugging Face sampled one folder differently.
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config(), seed: 2);
        if (generationConfig != null) File.WriteAllText(Path.Combine(checkpoint, "generation_config.json"),
                                                        generationConfig);
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output, new ExportOptions());
        var search = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "genai_config.json")))!["search"]!;
        Assert.Equal((doSample, temperature, topK, topP, 1.0),
            (search["do_sample"]!.GetValue<bool>(), search["temperature"]!.GetValue<double>(),
             search["top_k"]!.GetValue<int>(),
             search["top_p"]!.GetValue<double>(), search["repetition_penalty"]!.GetValue<double>()));
    }

    [Fact]
    public void A_sampling_value_out_of_range_in_generation_config_is_refused_before_the_export()
    {
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config(), seed: 2);
        File.WriteAllText(Path.Combine(checkpoint, "generation_config.json"), "{\"do_sample\": true, \"top_p\": 1.5}");
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, Path.Combine(_dir, "onnx"),
                                                                               new ExportOptions()));
        Assert.Contains("a sampling value is out of range (temperature 1, top_k 50, top_p 1.5", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "onnx")));
    }
}
