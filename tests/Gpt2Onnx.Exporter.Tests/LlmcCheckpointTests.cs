using System.Buffers.Binary;
using Gpt2Onnx.Core;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// llm.c's model file (TorchFixtures/write_llmc_fixture.py: version 5, bfloat16, GPT-2's vocabulary padded to
/// 50304) exports to graphs that compute what PyTorch computed from the same weights.
/// </summary>
public sealed class LlmcCheckpointTests : IDisposable
{
    private const string FileName = "model_00000010.bin";
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Fixture(string name = "log")
    {
        string folder = Path.Combine(_dir, name);
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TorchFixtures", "llmc", FileName),
                  Path.Combine(folder, FileName));
        return folder;
    }

    [Fact]
    public void The_config_comes_from_the_header_without_the_padding_rows()
    {
        using var checkpoint = Gpt2Checkpoint.Open(Fixture());
        var c = checkpoint.Config;
        Assert.Equal((50257, 16, 8, 2, 1, "gelu_new"),
                     (c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead, c.ActivationFunction));
        Assert.Equal(50257L * 8, checkpoint.ReadFloat32("wte.weight").Length);
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void The_exported_graph_computes_the_logits_PyTorch_computed(GraphVariant variant) =>
        TrainerInterop.AssertExportMatchesPyTorch(Fixture(), Path.Combine(_dir, "onnx"), "llmc", variant);

    [Fact]
    public void A_truncated_model_file_is_one_clear_error()
    {
        string folder = Fixture();
        string path = Path.Combine(folder, FileName);
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^100]);
        var error = Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(folder).Dispose()).Message;
        Assert.Contains("but its header implies", error);
        Assert.Contains("truncated", error);
    }

    [Fact]
    public void An_unknown_version_names_the_versions_read()
    {
        string folder = Fixture();
        string path = Path.Combine(folder, FileName);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), 1);
        File.WriteAllBytes(path, bytes);
        Assert.Contains("version 1; versions 3 (float32) and 5 (bfloat16)",
                        Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(folder).Dispose()).Message);
    }

    [Fact]
    public void Two_model_files_in_one_folder_are_refused_rather_than_guessed_between()
    {
        string folder = Fixture();
        File.Copy(Path.Combine(folder, FileName), Path.Combine(folder, "model_00000020.bin"));
        Assert.Contains("holds 2 llm.c model files",
                        Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(folder).Dispose()).Message);
    }
}
