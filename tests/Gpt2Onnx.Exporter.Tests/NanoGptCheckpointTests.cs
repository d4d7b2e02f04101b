using System.IO.Compression;
using Gpt2Onnx.Core;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using static Gpt2Onnx.Exporter.Tests.PickleBytes;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// nanoGPT's ckpt.pt (TorchFixtures/write_nanogpt_fixture.py: a tiny model in nanoGPT's architecture, bias=False,
/// compiled names, GPT-2's vocabulary) exports to graphs that compute what PyTorch computed for it.
/// </summary>
public sealed class NanoGptCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Fixture()
    {
        string folder = Path.Combine(_dir, "out");
        Directory.CreateDirectory(folder);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TorchFixtures", "nanogpt", NanoGptCheckpoint.FileName),
                  Path.Combine(folder, NanoGptCheckpoint.FileName));
        return folder;
    }

    [Fact]
    public void The_config_comes_from_model_args_with_nanoGPTs_exact_gelu()
    {
        using var checkpoint = Gpt2Checkpoint.Open(Fixture());
        var c = checkpoint.Config;
        Assert.Equal((50257, 16, 8, 2, 1, "gelu"),
                     (c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead, c.ActivationFunction));
        Assert.All(checkpoint.ReadFloat32("h.1.attn.c_attn.bias"), b => Assert.Equal(0f, b)); // bias=False
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void The_exported_graph_computes_the_logits_PyTorch_computed(GraphVariant variant) =>
        TrainerInterop.AssertExportMatchesPyTorch(Fixture(), Path.Combine(_dir, "onnx"), "nanogpt", variant);

    [Fact]
    public void A_character_level_model_is_refused_with_the_reason()
    {
        string folder = Path.Combine(_dir, "char");
        Directory.CreateDirectory(folder);
        var pickle = Pickle(P.EmptyDict, P.Mark,
            P.Str("model"), P.EmptyDict,
            P.Str("model_args"), P.EmptyDict, P.Mark, P.Str("vocab_size"), P.Int(65), P.Str("n_layer"), P.Int(6),
            P.SetItems,
            P.SetItems, P.Stop);
        WriteArchive(Path.Combine(folder, NanoGptCheckpoint.FileName), pickle, CompressionLevel.NoCompression);
        var error = Assert.ThrowsAny<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(folder).Dispose()).Message;
        Assert.Contains("a 65-token vocabulary (a character-level model?) cannot use GPT-2's tokenizer", error);
    }
}
