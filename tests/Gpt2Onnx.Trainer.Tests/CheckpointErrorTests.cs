using System.Runtime.InteropServices;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Broken or hostile checkpoints: one clear error each, before anything is built.</summary>
public sealed class CheckpointErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Error() => Assert.Throws<Gpt2OnnxException>(() => Gpt2Checkpoint.Open(_dir).Dispose()).Message;
    private string ModelPath => Path.Combine(_dir, CheckpointLayout.ModelFile);

    [Fact]
    public void A_config_that_contradicts_the_checkpoint()
    {
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config());
        (TinyCheckpoint.Config() with { NEmbd = 64 }).Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        Assert.Contains("the config contradicts the checkpoint", Error());
    }

    [Fact]
    public void A_missing_tensor()
    {
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config(layers: 2));
        (TinyCheckpoint.Config(layers: 3)).Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        Assert.Contains("lacks tensors", Error());
    }

    [Fact]
    public void An_extra_tensor()
    {
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config(layers: 2));
        TinyCheckpoint.Config(layers: 1).Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        Assert.Contains("tensors a GPT-2 does not", Error());
    }

    [Fact]
    public void A_truncated_file()
    {
        TinyCheckpoint.Write(_dir, TinyCheckpoint.Config());
        var bytes = File.ReadAllBytes(ModelPath);
        File.WriteAllBytes(ModelPath, bytes[..(bytes.Length / 2)]);
        Assert.Contains("outside the", Error());
    }

    [Fact]
    public void A_header_length_beyond_the_file()
    {
        TinyCheckpoint.Config().Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        File.WriteAllBytes(ModelPath, BitConverter.GetBytes(long.MaxValue));
        Assert.Contains("its header says its JSON takes 9,223,372,036,854,775,807 bytes, but only 0 follow", Error());
    }

    [Fact]
    public void Overlapping_tensors()
    {
        var config = TinyCheckpoint.Config(vocab: 4, positions: 4, embd: 4, layers: 1, heads: 1);
        config.Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        string header = "{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
                        "\"wpe.weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        WriteRaw(header, new byte[12]);
        Assert.Contains("overlap", Error());
    }

    [Fact]
    public void An_unknown_dtype()
    {
        TinyCheckpoint.Config().Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        WriteRaw("{\"wte.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", new byte[2]);
        Assert.Contains("unknown dtype", Error());
    }

    [Fact]
    public void NaN_weights()
    {
        var config = TinyCheckpoint.Config();
        config.Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        var entries = CheckpointLayout.ExpectedTensors(config).Select(e =>
        {
            var values = new float[e.Shape.Aggregate(1L, (a, b) => a * b)];
            if (e.Name == "h.1.ln_2.bias") values[3] = float.NaN;
            return new Gpt2Onnx.Core.Checkpoints.SafeTensorsFile.Entry(e.Name, TensorElementType.Float, e.Shape,
                                                                       MemoryMarshal.AsBytes(values.AsSpan())
                                                                           .ToArray());
        });
        SafeTensorsFile.Write(ModelPath, entries);
        using var broken = Gpt2Checkpoint.Open(_dir);
        var error = Assert.Throws<Gpt2OnnxException>(() => broken.ReadFloat32("h.1.ln_2.bias"));
        Assert.Contains("NaN", error.Message);
    }

    [Fact]
    public void A_shape_whose_size_overflows()
    {
        var config = TinyCheckpoint.Config(vocab: 4, positions: 4, embd: 4, layers: 1, heads: 1);
        config.Save(Path.Combine(_dir, CheckpointLayout.ConfigFile));
        WriteRaw("{\"wte.weight\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],\"data_offsets\":[0,8]}}",
                 new byte[8]);
        Assert.Contains("'wte.weight' has the shape [1099511627776, 1099511627776], more bytes than any file holds",
                        Error());
    }

    [Fact]
    public void A_config_with_impossible_numbers()
    {
        File.WriteAllText(Path.Combine(_dir, CheckpointLayout.ConfigFile), "{\"n_embd\": 100, \"n_head\": 3}");
        Assert.Contains("multiple of n_head", Error());
    }

    private void WriteRaw(string header, byte[] data)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        using var stream = File.Create(ModelPath);
        stream.Write(BitConverter.GetBytes((long)headerBytes.Length));
        stream.Write(headerBytes);
        stream.Write(data);
    }
}
