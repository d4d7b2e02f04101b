using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using static Gpt2Onnx.Exporter.Tests.PickleBytes;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// pytorch_model.bin, as PyTorch 1.13's torch.save wrote it (TorchFixtures/write_fixtures.py), read without
/// running its pickle: every value equal to the formula the fixture was written with, and every damaged or
/// hostile file one clear error.
/// </summary>
public sealed class TorchCheckpointTests : IDisposable
{
    private static readonly Gpt2Config FixtureConfig =
        new Gpt2Config { VocabSize = 16, NPositions = 8, NEmbd = 8, NLayer = 2, NHead = 2, BosTokenId = 15,
                         EosTokenId = 15 }.Validate("fixture");
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Element i of the j-th tensor, as write_fixtures.py computes it.</summary>
    private static float Expected(int j, long i) => (float)(((31 * j + 17 * i) % 251 - 125) / 256.0);

    private string FixtureFolder(string format)
    {
        string folder = Path.Combine(_dir, format);
        Directory.CreateDirectory(folder);
        FixtureConfig.Save(Path.Combine(folder, CheckpointLayout.ConfigFile));
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TorchFixtures", format, CheckpointLayout.TorchModelFile),
                  Path.Combine(folder, CheckpointLayout.TorchModelFile));
        return folder;
    }

    private string BinPath(string folder) => Path.Combine(folder, CheckpointLayout.TorchModelFile);

    private string Refusal(string folder) =>
        Assert.ThrowsAny<Gpt2OnnxException>(() => TorchCheckpointFile.Open(BinPath(folder)).Dispose()).Message;

    [Theory]
    // the transformer. prefix, a tied lm_head, mask buffers, a strided view, two windows of one storage
    [InlineData("zip")]
    [InlineData("legacy")]  // float16, the format before PyTorch 1.6
    public void Every_tensor_of_a_torch_save_file_has_the_values_it_was_saved_with(string format)
    {
        using var checkpoint = Gpt2Checkpoint.Open(FixtureFolder(format));
        int j = 0;
        foreach (var (name, shape) in CheckpointLayout.ExpectedTensors(FixtureConfig))
        {
            var values = checkpoint.ReadFloat32(name);
            Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), values.Length);
            for (int i = 0; i < values.Length; i++)
                Assert.True(values[i] == Expected(j, i), $"{name}[{i}] is {values[i]}, expected {Expected(j, i)}");
            j++;
        }
    }

    [Fact]
    public void A_torch_checkpoint_exports_to_the_same_logits_as_its_safetensors_twin()
    {
        string torch = FixtureFolder("zip");
        string twin = Path.Combine(_dir, "safetensors");
        Directory.CreateDirectory(twin);
        FixtureConfig.Save(Path.Combine(twin, CheckpointLayout.ConfigFile));
        SafeTensorsFile.Write(Path.Combine(twin, CheckpointLayout.ModelFile),
                              CheckpointLayout.ExpectedTensors(FixtureConfig).Select((e, j) =>
        {
            var values = new float[e.Shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < values.Length; i++) values[i] = Expected(j, i);
            return new SafeTensorsFile.Entry(e.Name, TensorElementType.Float, e.Shape,
                                             MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        }));
        var logits = new List<List<float[]>>();
        foreach (var checkpoint in new[] { torch, twin })
        {
            string onnx = checkpoint + "-onnx";
            OnnxExporter.Export(checkpoint, onnx, new ExportOptions());
            using var runner = new ExportedGraphRunner(onnx, FixtureConfig);
            logits.Add(runner.RunPortable([3, 1, 4, 1], [5]));
        }
        Assert.Equal(logits[1].Count, logits[0].Count);
        for (int row = 0; row < logits[0].Count; row++) Assert.Equal(logits[1][row], logits[0][row]);
    }

    [Fact]
    public void A_pickle_that_asks_for_code_is_refused_by_name()
    {
        // What a malicious pickle does: import os.system and call it. Nothing is imported or called here.
        string folder = ArchiveWith(Pickle(P.Global("os", "system"), P.Str("touch pwned"), P.Tuple1, P.Reduce, P.Stop));
        var error = Assert.ThrowsAny<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(folder).Dispose()).Message;
        Assert.Contains("asks for os.system", error);
        Assert.Contains("refused", error);
    }

    [Fact]
    public void A_tensor_that_reaches_past_its_storage_is_refused()
    {
        // wte.weight claims 100 elements of a 4-element storage.
        var pickle = Pickle(P.EmptyDict, P.Str("wte.weight"), Tensor(storageElements: 4, size: 100), P.SetItem, P.Stop);
        string folder = ArchiveWith(pickle, ("archive/data/0", new byte[16]));
        Assert.Contains("reaches outside its storage's 4 elements", Refusal(folder));
    }

    [Fact]
    public void A_string_longer_than_the_pickle_is_refused_before_it_is_allocated()
    {
        var pickle = Pickle([(byte)'X', 0xff, 0xff, 0xff, 0x7f], P.Stop);
        string folder = ArchiveWith(pickle);
        Assert.Contains("a length of 2147483647 bytes beyond its end", Refusal(folder));
    }

    [Fact]
    public void A_training_checkpoint_rather_than_a_state_dict_says_what_to_save()
    {
        var pickle = Pickle(P.EmptyDict, P.Str("model"), P.EmptyDict, P.SetItem, P.Stop);
        string folder = ArchiveWith(pickle);
        Assert.Contains("'model' is a dict, not a tensor", Refusal(folder));
    }

    [Fact]
    public void A_compressed_archive_is_refused_with_what_torch_save_writes()
    {
        string folder = ArchiveWith(Pickle(P.EmptyDict, P.Stop), compression: CompressionLevel.Optimal);
        Assert.Contains("is compressed", Refusal(folder));
    }

    [Fact]
    public void A_file_that_torch_save_did_not_write_is_one_clear_error()
    {
        string folder = Path.Combine(_dir, "text");
        Directory.CreateDirectory(folder);
        File.WriteAllText(BinPath(folder), "not a checkpoint");
        Assert.Contains("not a file torch.save wrote", Refusal(folder));
    }

    [Theory]
    [InlineData("zip")]
    [InlineData("legacy")]
    public void Truncated_or_damaged_files_fail_with_one_clear_error_and_never_crash(string format)
    {
        byte[] good = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TorchFixtures", format,
                                                     CheckpointLayout.TorchModelFile));
        string folder = Path.Combine(_dir, "damaged");
        Directory.CreateDirectory(folder);
        FixtureConfig.Save(Path.Combine(folder, CheckpointLayout.ConfigFile));
        var random = new Random(7);
        int failures = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            byte[] bytes = trial < 100 ? good[..random.Next(good.Length)] : (byte[])good.Clone();
            if (trial >= 100)
                for (int k = random.Next(1, 4); k > 0; k--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(BinPath(folder), bytes);
            try
            {
                using var checkpoint = Gpt2Checkpoint.Open(folder);
                foreach (var (name, _) in CheckpointLayout.ExpectedTensors(FixtureConfig)) checkpoint.ReadFloat32(name);
            }
            catch (Gpt2OnnxException)
            {
                failures++;
            }
        }
        Assert.True(failures >= 100, $"only {failures} of 300 damaged files were refused"); // every truncation at least
    }

    /// <summary>_rebuild_tensor_v2 of storage '0' (float, <paramref name="storageElements"/> long), offset 0, shape
    /// [size], stride [1].</summary>
    private static byte[] Tensor(int storageElements, int size) =>
    [
        .. P.Global("torch._utils", "_rebuild_tensor_v2"), .. P.Mark,
        .. P.Mark, .. P.Str("storage"), .. P.Global("torch", "FloatStorage"), .. P.Str("0"), .. P.Str("cpu"),
        .. P.Int(storageElements), .. P.Tuple, .. P.PersId,
        .. P.Int(0), .. P.Int(size), .. P.Tuple1, .. P.Int(1), .. P.Tuple1, .. P.False,
        .. P.Global("collections", "OrderedDict"), .. P.EmptyTuple, .. P.Reduce,
        .. P.Tuple, .. P.Reduce,
    ];

    /// <summary>A folder with the fixture's config and a pytorch_model.bin zip holding archive/data.pkl and the given
    /// members.</summary>
    private string ArchiveWith(byte[] pickle, params (string Name, byte[] Bytes)[] members) =>
        ArchiveWith(pickle, CompressionLevel.NoCompression, members);

    private string ArchiveWith(byte[] pickle, CompressionLevel compression,
                               params (string Name, byte[] Bytes)[] members)
    {
        string folder = Path.Combine(_dir, "handmade");
        Directory.CreateDirectory(folder);
        FixtureConfig.Save(Path.Combine(folder, CheckpointLayout.ConfigFile));
        PickleBytes.WriteArchive(BinPath(folder), pickle, compression, members);
        return folder;
    }
}
