using System.Text.Json.Nodes;
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
        ["model.decoder"] = ["filename", "session_options", "head_size", "hidden_size", "num_attention_heads", "num_key_value_heads",
                             "num_hidden_layers", "inputs", "outputs"],
        ["model.decoder.session_options"] = ["log_id", "provider_options"],
        ["model.decoder.inputs"] = ["input_ids", "attention_mask", "position_ids", "past_key_names", "past_value_names"],
        ["model.decoder.outputs"] = ["logits", "present_key_names", "present_value_names"],
        ["search"] = ["do_sample", "max_length", "min_length", "num_beams", "num_return_sequences", "past_present_share_buffer",
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
    public void The_config_holds_only_onnxruntime_genai_keys_and_names_what_the_graph_has(GraphVariant variant, Precision precision)
    {
        var config = TinyCheckpoint.Config();
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), config, seed: 2);
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output, new ExportOptions { Variant = variant, Precision = precision });
        var genai = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(output, "genai_config.json")))!;
        CheckKeys(genai, "");

        using var session = new OrtSession(Path.Combine(output, OnnxExporter.ModelFile));
        var decoder = genai["model"]!["decoder"]!;
        string Name(string template, int layer) => template.Replace("%d", layer.ToString());
        var inputs = decoder["inputs"]!.AsObject();
        foreach (var key in new[] { "input_ids", "attention_mask", "position_ids" })
            Assert.NotNull(session.Input(inputs[key]!.GetValue<string>()));
        Assert.Equal(session.Inputs.Select(i => i.Name).Order(),
            new[] { "input_ids", "attention_mask", "position_ids" }.Concat(Enumerable.Range(0, config.NLayer).SelectMany(i =>
                new[] { Name(inputs["past_key_names"]!.GetValue<string>(), i), Name(inputs["past_value_names"]!.GetValue<string>(), i) })).Order());
        var outputs = decoder["outputs"]!.AsObject();
        Assert.Equal(session.Outputs.Select(o => o.Name).Order(),
            new[] { outputs["logits"]!.GetValue<string>() }.Concat(Enumerable.Range(0, config.NLayer).SelectMany(i =>
                new[] { Name(outputs["present_key_names"]!.GetValue<string>(), i), Name(outputs["present_value_names"]!.GetValue<string>(), i) })).Order());
        Assert.Equal(variant == GraphVariant.Fused, genai["search"]!["past_present_share_buffer"]!.GetValue<bool>());
        Assert.Equal(variant == GraphVariant.Fused ? "true" : "false", session.Metadata["gpt2onnx.past_present_share_buffer"]);
        Assert.Equal(precision.ToString().ToLowerInvariant(), session.Metadata["gpt2onnx.precision"]);
    }
}
