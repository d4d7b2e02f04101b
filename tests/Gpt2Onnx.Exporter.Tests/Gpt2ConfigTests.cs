using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;

namespace Gpt2Onnx.Exporter.Tests;

public class Gpt2ConfigTests
{
    // The config.json Hugging Face publishes with GPT-2 (124M), keys and values as they are there.
    private const string HuggingFaceGpt2 = """
        {"activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"], "attn_pdrop": 0.1,
         "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256, "initializer_range": 0.02,
         "layer_norm_epsilon": 1e-05, "model_type": "gpt2", "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12,
         "n_positions": 1024, "resid_pdrop": 0.1, "summary_activation": null, "summary_first_dropout": 0.1,
         "summary_proj_to_labels": true, "summary_type": "cls_index", "summary_use_proj": true,
         "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}}, "vocab_size": 50257,
         "scale_attn_weights": true, "scale_attn_by_inverse_layer_idx": false, "reorder_and_upcast_attn": false}
        """;

    private static Gpt2Config Parse(string json) =>
        Gpt2Config.FromJson((JsonObject)JsonNode.Parse(json)!, "config.json").Validate("config.json");

    [Fact]
    public void The_published_GPT2_config_reads_as_GPT2_124M()
    {
        var config = Parse(HuggingFaceGpt2);
        Assert.Equal((50257, 1024, 768, 12, 12),
                     (config.VocabSize, config.NPositions, config.NEmbd, config.NLayer, config.NHead));
        Assert.True(config.TanhGelu);
        Assert.Equal(124_439_808, config.ParameterCount);
    }

    [Theory]
    [InlineData("\"scale_attn_by_inverse_layer_idx\": true",
                "scale_attn_by_inverse_layer_idx = true changes GPT-2's attention")]
    [InlineData("\"scale_attn_weights\": false", "scale_attn_weights = false changes GPT-2's attention")]
    [InlineData("\"add_cross_attention\": true", "add_cross_attention = true")]
    [InlineData("\"scale_attn_weights\": \"yes\"", "'scale_attn_weights' must be true or false")]
    [InlineData("\"activation_function\": 5", "'activation_function' must be a string, not 5")]
    [InlineData("\"activation_function\": \"relu\"", "activation_function 'relu' is not supported")]
    public void Arithmetic_this_project_does_not_implement_is_refused_by_name(string entry, string expected)
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Parse("{\"n_layer\": 2, " + entry + "}"));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Tens_of_millions_of_tiny_layers_are_refused_though_their_parameter_count_is_small()
    {
        // 37 million layers of width 8 are 3e10 parameters, under the bound, but 450 million tensors to list.
        var error = Assert.Throws<Gpt2OnnxException>(() => Parse("{\"vocab_size\": 10, \"n_positions\": 10, " +
                                                                 "\"n_embd\": 8, \"n_head\": 1, \"n_layer\": " +
                                                                 "37216910, \"bos_token_id\": 0, \"eos_token_id\": " +
                                                                 "0}"));
        Assert.Contains("n_layer is 37216910, more than the 1024 this tool accepts", error.Message);
    }

    [Theory]
    [InlineData("\"n_embd\": 268435456, \"n_head\": 1, \"n_layer\": 16")]   // the parameter count passes long's range
    [InlineData("\"n_embd\": 1073741825, \"n_head\": 1, \"n_layer\": 1")]   // 4 × n_embd passes int's range
    public void Sizes_whose_parameter_count_overflows_are_refused_not_wrapped_around(string sizes)
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Parse("{\"vocab_size\": 10, \"n_positions\": 10, " +
                                                                 "\"bos_token_id\": 0, \"eos_token_id\": 0, " + sizes
                                                                     + "}"));
        Assert.Contains("parameters: is the config right?", error.Message);
    }

    [Fact]
    public void A_damaged_config_is_one_line_that_says_where_without_quoting_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gpt2onnx-config-{Guid.NewGuid():N}.json");
        // A flipped byte turns "[" into "f": the parser reads an invalid literal running through the rest of the file.
        File.WriteAllText(path, "{\"architectures\": f  \"GPT2LMHeadModel\"\n  ],\n \"n_layer\": 4,\n \"n_head\": " +
                                "4\n}");
        try
        {
            var error = Assert.Throws<Gpt2OnnxException>(() => Gpt2Config.Load(path));
            Assert.Equal($"{path}: not valid JSON (line 1, byte 20): fix the file", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
