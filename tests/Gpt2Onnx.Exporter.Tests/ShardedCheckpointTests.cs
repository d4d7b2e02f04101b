using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>Checkpoints save_pretrained split into shards, with an index.json naming each tensor's shard.</summary>
public sealed class ShardedCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly Gpt2Config _config = TinyCheckpoint.Config(layers: 2);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void WriteIndex(string path, IEnumerable<(string Name, string Shard)> map) =>
        File.WriteAllText(path, new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = 0 },
            ["weight_map"] = new JsonObject(map.Select(m => KeyValuePair.Create(m.Name, (JsonNode?)m.Shard))),
        }.ToJsonString());

    /// <summary>The single-file checkpoint's tensors split over two safetensors shards (with the transformer. prefix),
    /// and an index.</summary>
    private (string Single, string Sharded) SplitCheckpoint()
    {
        string single = TinyCheckpoint.Write(Path.Combine(_dir, "single"), _config, seed: 3);
        string sharded = Path.Combine(_dir, "sharded");
        Directory.CreateDirectory(sharded);
        _config.Save(Path.Combine(sharded, CheckpointLayout.ConfigFile));
        var names = CheckpointLayout.ExpectedTensors(_config).ToList();
        var map = new List<(string, string)>();
        using (var source = SafeTensorsFile.Open(Path.Combine(single, CheckpointLayout.ModelFile)))
            for (int part = 0; part < 2; part++)
            {
                string shard = $"model-0000{part + 1}-of-00002.safetensors";
                var half = names.Where((_, i) => i % 2 == part).ToList();
                SafeTensorsFile.Write(Path.Combine(sharded, shard), half.Select(n =>
                {
                    var info = source.Tensors[n.Name];
                    var bytes = new byte[info.ByteLength];
                    source.ReadBytes(info, bytes);
                    return new SafeTensorsFile.Entry("transformer." + n.Name, info.DType, n.Shape, bytes);
                }));
                map.AddRange(half.Select(n => ("transformer." + n.Name, shard)));
            }
        WriteIndex(Path.Combine(sharded, CheckpointLayout.ModelFile + CheckpointLayout.IndexSuffix), map);
        return (single, sharded);
    }

    [Fact]
    public void A_sharded_safetensors_checkpoint_reads_the_same_tensors_as_the_single_file()
    {
        var (single, sharded) = SplitCheckpoint();
        using var expected = Gpt2Checkpoint.Open(single);
        using var actual = Gpt2Checkpoint.Open(sharded);
        foreach (var (name, _) in CheckpointLayout.ExpectedTensors(_config))
            Assert.Equal(expected.ReadFloat32(name), actual.ReadFloat32(name));
    }

    [Fact]
    public void A_sharded_pytorch_model_bin_loads()
    {
        string folder = Path.Combine(_dir, "bin");
        Directory.CreateDirectory(folder);
        var config = new Gpt2Config { VocabSize = 16, NPositions = 8, NEmbd = 8, NLayer = 2, NHead = 2, BosTokenId = 15,
                                      EosTokenId = 15 };
        config.Save(Path.Combine(folder, CheckpointLayout.ConfigFile));
        const string shard = "pytorch_model-00001-of-00001.bin";
        File.Copy(Path.Combine(AppContext.BaseDirectory, "TorchFixtures", "zip", CheckpointLayout.TorchModelFile),
                  Path.Combine(folder, shard));
        WriteIndex(Path.Combine(folder, CheckpointLayout.TorchModelFile + CheckpointLayout.IndexSuffix),
                   [("transformer.wte.weight", shard), ("lm_head.weight", shard)]);
        using var checkpoint = Gpt2Checkpoint.Open(folder);
        // the fixture's first value (TorchCheckpointTests)
        Assert.Equal(-125 / 256f, checkpoint.ReadFloat32("wte.weight")[0]);
    }

    [Fact]
    public void A_shard_named_outside_the_folder_is_refused()
    {
        var (_, sharded) = SplitCheckpoint();
        WriteIndex(Path.Combine(sharded, CheckpointLayout.ModelFile + CheckpointLayout.IndexSuffix),
                   [("transformer.wte.weight", "../single/model.safetensors")]);
        var error = Assert.ThrowsAny<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(sharded).Dispose()).Message;
        Assert.Contains("names the shard '../single/model.safetensors', which is not a file name beside the index",
                        error);
    }

    [Fact]
    public void An_index_that_puts_a_tensor_in_the_wrong_shard_is_refused()
    {
        var (_, sharded) = SplitCheckpoint();
        WriteIndex(Path.Combine(sharded, CheckpointLayout.ModelFile + CheckpointLayout.IndexSuffix),
            [("transformer.wte.weight", "model-00002-of-00002.safetensors"),
             ("transformer.wpe.weight", "model-00001-of-00002.safetensors")]);
        var error = Assert.ThrowsAny<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(sharded).Dispose()).Message;
        Assert.Contains("puts 'transformer.wte.weight' in model-00002-of-00002.safetensors, which does not hold it",
                        error);
    }

    [Fact]
    public void A_missing_shard_is_one_clear_error()
    {
        var (_, sharded) = SplitCheckpoint();
        File.Delete(Path.Combine(sharded, "model-00002-of-00002.safetensors"));
        var error = Assert.ThrowsAny<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(sharded).Dispose()).Message;
        Assert.Contains("names the shard model-00002-of-00002.safetensors, which is missing", error);
    }
}
