using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>The exporter's promises about its output folder, and its errors.</summary>
public sealed class ExportErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Checkpoint() => TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config(), seed: 3);

    /// <summary>A zero checkpoint in <paramref name="name"/> whose <paramref name="tensor"/> holds <paramref
    /// name="value"/> at <paramref name="index"/>.</summary>
    private string CheckpointWith(string name, string tensor, int index, float value)
    {
        var config = TinyCheckpoint.Config();
        string checkpoint = Path.Combine(_dir, name);
        Directory.CreateDirectory(checkpoint);
        config.Save(Path.Combine(checkpoint, CheckpointLayout.ConfigFile));
        SafeTensorsFile.Write(Path.Combine(checkpoint, CheckpointLayout.ModelFile),
                              CheckpointLayout.ExpectedTensors(config).Select(e =>
        {
            var values = new float[e.Shape.Aggregate(1L, (a, b) => a * b)];
            if (e.Name == tensor) values[index] = value;
            return new SafeTensorsFile.Entry(e.Name, TensorElementType.Float, e.Shape,
                                             MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        }));
        return checkpoint;
    }

    [Fact]
    public void A_fused_export_of_a_head_size_its_attention_kernel_refuses_says_to_use_portable()
    {
        // head size 2
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "narrow"),
                                                 TinyCheckpoint.Config(embd: 16, heads: 8), seed: 3);
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, Path.Combine(_dir, "onnx"),
            new ExportOptions { Variant = GraphVariant.Fused }));
        Assert.Contains("a multiple of 8, and this model's is 2: export it with --variant portable", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "onnx")));
    }

    [Theory]
    [InlineData("999999", "eos_token_id 999999 is outside the vocabulary (0..95)")]
    [InlineData("-5", "eos_token_id -5 is outside the vocabulary")]
    [InlineData("\"two\"", "not a valid generation config")]
    public void A_generation_config_whose_end_of_text_the_model_cannot_have_is_refused_before_any_work(string eos,
        string expected)
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        File.WriteAllText(Path.Combine(checkpoint, "generation_config.json"), $"{{\"eos_token_id\": {eos}}}");
        Assert.Contains(expected, Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, output,
            new ExportOptions())).Message);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_tokenizer_with_more_ids_than_the_model_is_refused_before_any_work_and_a_missing_one_is_reported()
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        // a tokenizer's settings, but no tokenizer
        File.WriteAllText(Path.Combine(checkpoint, "tokenizer_config.json"), "{}");
        Assert.False(OnnxExporter.Export(checkpoint, output, new ExportOptions()).HasTokenizer);
        // A byte-level tokenizer (over 256 ids) beside a model of 96: the runtime would refuse the export at its first
        // run.
        var tokenizer = Gpt2Onnx.Trainer.Tokenizers.BpeTrainer.Train(["the quick brown fox jumps over the lazy dog",
                                                                      "hello world"], vocabSize: 300);
        tokenizer.Save(checkpoint);
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, Path.Combine(_dir, "onnx2"),
                                                                               new ExportOptions()));
        Assert.Contains($"its tokenizer has {tokenizer.VocabSize} ids but the model only 96: the folder mixes two " +
                        "models", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "onnx2")));
    }

    [Fact]
    public void A_list_of_end_of_text_ids_gives_its_first()
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        File.WriteAllText(Path.Combine(checkpoint, "generation_config.json"), "{\"eos_token_id\": [7, 9]}");
        OnnxExporter.Export(checkpoint, output, new ExportOptions());
        Assert.Equal(7, System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output,
            "genai_config.json")))!["model"]!["eos_token_id"]!.GetValue<int>());
    }

    [Fact]
    public void An_output_path_that_is_a_file_is_refused_before_any_work()
    {
        string file = Path.Combine(_dir, "not-a-folder");
        File.WriteAllText(file, "keep me");
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(Path.Combine(_dir,
            "no-checkpoint-needed"), file, new ExportOptions()));
        Assert.Contains("is a file: --out names the folder to write", error.Message);
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [Fact]
    public void An_existing_output_folder_needs_force()
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output, new ExportOptions());
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, output,
                                                                               new ExportOptions()));
        Assert.Contains("--force", error.Message);
        OnnxExporter.Export(checkpoint, output, new ExportOptions { Force = true, Variant = GraphVariant.Fused });
        Assert.Equal("fused", ModelInspector.Inspect(output).Metadata.Single(m => m.Key == "gpt2onnx.variant").Value);
    }

    [Fact]
    public void A_failed_export_leaves_no_partial_output()
    {
        string checkpoint = CheckpointWith("inf", "h.1.mlp.c_fc.weight", 0, float.PositiveInfinity);
        string output = Path.Combine(_dir, "onnx");
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, output,
                                                                               new ExportOptions()));
        Assert.Contains("infinity", error.Message);
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetDirectories(_dir, "onnx*"));
    }

    [Fact]
    public void An_export_removes_what_a_killed_export_to_the_same_folder_left_behind()
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        using var ended = System.Diagnostics.Process.Start("true")!;
        ended.WaitForExit();
        string abandoned = Directory.CreateDirectory(output + ".tmp-" + ended.Id).FullName;
        File.WriteAllText(Path.Combine(abandoned, "model.onnx"), "half written");
        string running = Directory.CreateDirectory(output + ".tmp-1").FullName;      // process 1 is running
        string other = Directory.CreateDirectory(output + "2.tmp-" + ended.Id).FullName; // another output's
        OnnxExporter.Export(checkpoint, output, new ExportOptions());
        Assert.False(Directory.Exists(abandoned));
        Assert.True(Directory.Exists(running));
        Assert.True(Directory.Exists(other));
    }

    [Fact]
    public void The_same_checkpoint_exports_to_the_same_bytes()
    {
        string checkpoint = Checkpoint();
        foreach (var options in new[] { new ExportOptions(),
                                        new ExportOptions { Variant = GraphVariant.Fused,
                                                            Precision = Precision.Int4 } })
        {
            OnnxExporter.Export(checkpoint, Path.Combine(_dir, "a"), options with { Force = true });
            OnnxExporter.Export(checkpoint, Path.Combine(_dir, "b"), options with { Force = true });
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", OnnxExporter.ModelFile)),
                         File.ReadAllBytes(Path.Combine(_dir, "b", OnnxExporter.ModelFile)));
        }
    }

    [Fact]
    public void External_data_holds_every_weight_and_the_model_still_runs()
    {
        string checkpoint = Checkpoint(), output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output, new ExportOptions { ExternalData = true });
        var report = ModelInspector.Inspect(output);
        Assert.Contains(report.Files, f => f.File == OnnxExporter.DataFile && f.Bytes > 0);
        Assert.True(new FileInfo(Path.Combine(output, OnnxExporter.ModelFile)).Length < 200_000);
        using var runner = new ExportedGraphRunner(output, TinyCheckpoint.Config());
        Assert.Equal(3, runner.RunPortable([1, 2, 3]).Count);
    }

    [Theory]
    [InlineData(Precision.Fp32)]
    [InlineData(Precision.Fp16)]
    public void The_portable_graph_follows_the_contract_and_the_checker_rules_of_opset_17(Precision precision)
    {
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(Checkpoint(), output, new ExportOptions { Precision = precision });
        OnnxCheckerRules.Check(Path.Combine(output, OnnxExporter.ModelFile));
        var report = ModelInspector.Inspect(output);
        Assert.Equal(8, report.IrVersion);
        Assert.Equal([("ai.onnx", 17L)], report.Opsets);
        Assert.Equal(["input_ids", "attention_mask", "position_ids", "past_key_values.0.key",
                      "past_key_values.0.value"], report.Inputs.Take(5).Select(i => i.Name));
        Assert.Equal(["logits", "present.0.key", "present.0.value"], report.Outputs.Take(3).Select(o => o.Name));
        Assert.DoesNotContain(report.Operators, o => o.Op.Contains('.')); // no contrib domain
        // wte is stored once: the parameter count is the model's, not the model's plus a copied LM head.
        Assert.Equal(TinyCheckpoint.Config().ParameterCount, report.Parameters);
    }

    [Fact]
    public void A_weight_beyond_float16_range_is_refused_for_fp16_rather_than_written_as_infinity()
    {
        string checkpoint = CheckpointWith("large", "h.0.attn.c_proj.bias", 3, -70000f);
        string output = Path.Combine(_dir, "o");
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(checkpoint, output,
            new ExportOptions { Precision = Precision.Fp16 }));
        Assert.Contains("'h.0.attn.c_proj.bias' holds -70000 at element 3, beyond float16's range", error.Message);
        Assert.Contains("--precision fp32", error.Message);
        Assert.False(Directory.Exists(output));
        OnnxExporter.Export(checkpoint, output, new ExportOptions()); // fp32 takes it
    }

    [Fact]
    public void Int4_needs_the_fused_variant()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => OnnxExporter.Export(Checkpoint(), Path.Combine(_dir, "o"),
            new ExportOptions { Precision = Precision.Int4 }));
        Assert.Contains("--variant fused", error.Message);
    }

    [Fact]
    public void Inspecting_a_file_that_is_not_onnx_is_a_clear_error()
    {
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(path, [0xFF, 0xFF, 0xFF, 0x01, 0x02]);
        Assert.Contains("not a valid ONNX model",
                        Assert.Throws<Gpt2OnnxException>(() => ModelInspector.Inspect(path)).Message);
    }

    [Theory]
    [InlineData("fp32", true)]
    [InlineData("int4", false)]
    public async Task A_block_size_given_for_a_precision_that_has_none_is_named_as_not_used(string precision,
        bool noted)
    {
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-export", "--checkpoint", Checkpoint(), "--out",
                                                              Path.Combine(_dir, precision),
                                                              "--variant", "fused", "--precision", precision,
                                                              "--block-size", "16");
        Assert.True(exitCode == 0, stderr);
        Assert.Equal(noted, stderr.Contains("note: --block-size is for --precision int4 and int8; this fp32 export " +
                                            "does not use it"));
    }

    [Theory]
    [InlineData("ckpt", "is the --checkpoint")]
    [InlineData(".", "holds the --checkpoint")]
    [InlineData("ckpt/onnx", "is inside the --checkpoint")]
    public void An_out_on_around_or_inside_the_checkpoint_is_refused_even_with_force(string output, string expected)
    {
        // With --force the export replaced the checkpoint, or deleted it and everything beside it.
        string checkpoint = Checkpoint();
        var before = Directory.GetFiles(checkpoint).Select(File.ReadAllBytes).ToList();
        var error = Assert.Throws<Gpt2OnnxException>(() =>
            OnnxExporter.Export(checkpoint, Path.Combine(_dir, output), new ExportOptions { Force = true }));
        Assert.Contains(expected, error.Message);
        Assert.Equal(before, Directory.GetFiles(checkpoint).Select(File.ReadAllBytes));
    }

    [Fact]
    public void A_link_to_the_checkpoint_is_the_checkpoint()
    {
        string checkpoint = Checkpoint(), link = Path.Combine(_dir, "link");
        Directory.CreateSymbolicLink(link, checkpoint);
        var error = Assert.Throws<Gpt2OnnxException>(() =>
            OnnxExporter.Export(link, checkpoint, new ExportOptions { Force = true }));
        Assert.Contains("is the --checkpoint", error.Message);
    }

    [Fact]
    public void A_safetensors_header_as_long_as_the_file_says_how_much_follows_its_length()
    {
        // It said "the header claims 13285000 bytes but the file has 13285000".
        string checkpoint = Checkpoint(), model = Path.Combine(checkpoint, CheckpointLayout.ModelFile);
        long length = new FileInfo(model).Length;
        using (var file = new FileStream(model, FileMode.Open, FileAccess.Write))
            file.Write(BitConverter.GetBytes(length));
        var error = Assert.Throws<Gpt2OnnxException>(() => SafeTensorsFile.Open(model));
        Assert.Contains($"its header says its JSON takes {length:N0} bytes, but only {length - 8:N0} follow the " +
                        "8-byte length", error.Message);
    }

    [Fact]
    public void A_folder_in_the_place_of_config_json_is_called_a_folder()
    {
        // It was reported as missing.
        string checkpoint = Checkpoint(), config = Path.Combine(checkpoint, CheckpointLayout.ConfigFile);
        File.Delete(config);
        Directory.CreateDirectory(config);
        var error = Assert.Throws<Gpt2OnnxException>(() => Gpt2Config.Load(config));
        Assert.Contains($"{config} is a folder, not a file", error.Message);
    }

    [Fact]
    public void A_size_past_int_range_in_config_json_is_called_out_of_range()
    {
        string checkpoint = Checkpoint(), config = Path.Combine(checkpoint, CheckpointLayout.ConfigFile);
        string text = File.ReadAllText(config);
        File.WriteAllText(config, text.Replace("\"n_positions\": 32", "\"n_positions\": 1000000000000"));
        var error = Assert.Throws<Gpt2OnnxException>(() => Gpt2Config.Load(config));
        Assert.Contains("'n_positions' must be a whole number from -2147483648 to 2147483647, not 1000000000000",
                        error.Message);
    }
}
