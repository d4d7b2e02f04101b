using System.Runtime.InteropServices;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow;
using Gpt2Onnx.TestSupport;
using static Gpt2Onnx.TestSupport.TfBundleWriter;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>The TensorFlow checkpoint reader on bundles TensorFlow wrote and on ones the tests write.</summary>
public sealed class TensorBundleTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string folder) =>
        Path.Combine(AppContext.BaseDirectory, "TensorFlowFixtures", folder, "variables.index");

    [Fact]
    public void Crc32c_matches_the_published_check_value()
    {
        // The CRC-32C check value of "123456789" (RFC 3720's parameters, as every CRC catalogue lists it).
        Assert.Equal(0xE3069283u, Crc32C.Compute(Encoding.ASCII.GetBytes("123456789")));
        Assert.Equal(0xE3069283u, Crc32C.Unmask(Crc32C.Mask(0xE3069283u)));
    }

    [Theory]
    [InlineData("half_plus_two_tf1", "")]
    [InlineData("half_plus_two_tf2", "/.ATTRIBUTES/VARIABLE_VALUE")]
    public void A_bundle_TensorFlow_wrote_reads_with_the_values_it_saved(string folder, string suffix)
    {
        using var bundle = TensorBundle.Open(Fixture(folder));
        // saved_model_half_plus_two.py: tf.Variable(0.5, name="a"), (2.0, "b"), (3.0, "c"); scalars.
        foreach (var (name, value) in new[] { ("a", 0.5f), ("b", 2.0f), ("c", 3.0f) })
        {
            var info = bundle.Tensors[name + suffix];
            Assert.Empty(info.Shape);
            Assert.Equal([value], bundle.ReadFloat32(info));
        }
    }

    [Fact]
    public void The_object_graph_of_a_tf2_bundle_is_skipped_not_read()
    {
        using var bundle = TensorBundle.Open(Fixture("half_plus_two_tf2"));
        Assert.Contains("_CHECKPOINTABLE_OBJECT_GRAPH", bundle.Skipped);
        Assert.DoesNotContain("_CHECKPOINTABLE_OBJECT_GRAPH", bundle.Tensors.Keys);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 3)]
    public void Float32_float16_and_bfloat16_tensors_read_exactly(bool snappy, int shards)
    {
        float[] values = [1.5f, -2.25f, 0.125f, 65280f, -0.0078125f, 3f];
        var halves = values.Select(v => (Half)v).ToArray();
        var bf16 = values.Select(v => (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)).ToArray();
        string index = Write(Path.Combine(_dir, "model.ckpt"),
        [
            Floats("layer/f32", [2, 3], values),
            new Variable("layer/f16", 19, [3, 2], MemoryMarshal.AsBytes(halves.AsSpan()).ToArray()),
            new Variable("layer/bf16", 14, [6], MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray()),
            new Variable("global_step", 9, [], BitConverter.GetBytes(7L)),
        ], shards, snappy);
        using var bundle = TensorBundle.Open(index);
        Assert.Equal([2L, 3], bundle.Tensors["layer/f32"].Shape);
        Assert.Equal(values, bundle.ReadFloat32(bundle.Tensors["layer/f32"]));
        Assert.Equal(values, bundle.ReadFloat32(bundle.Tensors["layer/f16"])); // each value is exact in float16
        Assert.Equal(values, bundle.ReadFloat32(bundle.Tensors["layer/bf16"])); // and in bfloat16
        Assert.Equal(["global_step"], bundle.Skipped);
    }

    [Fact]
    public void Many_keys_sharing_prefixes_across_blocks_all_read()
    {
        var variables = Enumerable.Range(0, 40).Select(i => Floats($"model/h{i}/attn/c_attn/w", [1], [i])).ToList();
        string index = Write(Path.Combine(_dir, "model.ckpt"), variables, shards: 2, snappy: true);
        using var bundle = TensorBundle.Open(index);
        Assert.Equal(40, bundle.Tensors.Count);
        for (int i = 0; i < 40; i++)
            Assert.Equal([(float)i], bundle.ReadFloat32(bundle.Tensors[$"model/h{i}/attn/c_attn/w"]));
    }

    private string WriteSmall() =>
        Write(Path.Combine(_dir, "model.ckpt"), [Floats("model/wte", [4, 2], [1, 2, 3, 4, 5, 6, 7, 8])]);

    private static string OneLine(Action action)
    {
        var e = Assert.Throws<Gpt2OnnxException>(action);
        Assert.DoesNotContain('\n', e.Message);
        return e.Message;
    }

    [Fact]
    public void A_truncated_index_is_one_clear_line()
    {
        string index = WriteSmall();
        var bytes = File.ReadAllBytes(index);
        File.WriteAllBytes(index, bytes[..^10]);
        Assert.Contains("magic number", OneLine(() => TensorBundle.Open(index)));
        File.WriteAllBytes(index, bytes[..20]);
        Assert.Contains("shorter than a table's 48-byte footer", OneLine(() => TensorBundle.Open(index)));
    }

    [Fact]
    public void A_damaged_index_block_fails_its_checksum()
    {
        string index = WriteSmall();
        var bytes = File.ReadAllBytes(index);
        bytes[3] ^= 0x40;
        File.WriteAllBytes(index, bytes);
        Assert.Contains("checksum does not match", OneLine(() => TensorBundle.Open(index)));
    }

    [Fact]
    public void Damaged_tensor_bytes_fail_their_checksum_when_read()
    {
        string index = WriteSmall();
        string data = Path.Combine(_dir, "model.ckpt.data-00000-of-00001");
        var bytes = File.ReadAllBytes(data);
        bytes[5] ^= 1;
        File.WriteAllBytes(data, bytes);
        using var bundle = TensorBundle.Open(index);
        var message = OneLine(() => bundle.ReadFloat32(bundle.Tensors["model/wte"]));
        Assert.Contains("'model/wte' do not match their checksum", message);
    }

    [Fact]
    public void An_offset_past_the_end_of_its_shard_is_refused_before_reading()
    {
        WriteSmall();
        string data = Path.Combine(_dir, "model.ckpt.data-00000-of-00001");
        File.WriteAllBytes(data, File.ReadAllBytes(data)[..16]);
        var message = OneLine(() => TensorBundle.Open(Path.Combine(_dir, "model.ckpt.index")));
        Assert.Contains("'model/wte' lies at bytes 0..32", message);
        Assert.Contains("which holds 16", message);
    }

    [Fact]
    public void A_huge_shape_is_refused_without_allocating()
    {
        string index = Write(Path.Combine(_dir, "model.ckpt"),
            [new Variable("model/wte", 1, [1L << 40, 1L << 40], new byte[16])]);
        Assert.Contains("more bytes than any file holds", OneLine(() => TensorBundle.Open(index)));
    }

    [Fact]
    public void A_shape_that_disagrees_with_the_stored_size_is_refused()
    {
        string index = Write(Path.Combine(_dir, "model.ckpt"), [new Variable("model/wte", 1, [3, 3], new byte[16])]);
        Assert.Contains("needs 36 bytes but is given 16", OneLine(() => TensorBundle.Open(index)));
    }

    [Fact]
    public void A_missing_shard_is_named()
    {
        string index = Write(Path.Combine(_dir, "model.ckpt"), [Floats("x", [1], [1]), Floats("y", [1], [2])], 2);
        File.Delete(Path.Combine(_dir, "model.ckpt.data-00001-of-00002"));
        Assert.Contains("model.ckpt.data-00001-of-00002 is missing", OneLine(() => TensorBundle.Open(index)));
    }

    [Fact]
    public void A_snappy_block_claiming_a_huge_expansion_is_refused_before_allocating()
    {
        // One block whose snappy preamble claims 2 GB - 1 from a few bytes, with a valid trailer: only the
        // declared length is wrong, and it must be refused before a buffer of that size is made.
        byte[] claim = [0xff, 0xff, 0xff, 0xff, 0x07, 0x00];
        var file = new List<byte>(claim) { 1 };
        file.AddRange(BitConverter.GetBytes(Crc32C.Mask(Crc32C.Compute([.. claim, 1]))));
        var footer = new byte[48];
        footer[3] = (byte)claim.Length; // varints: metaindex (0, 0), unused; index (0, 6), the block above
        BitConverter.GetBytes(SsTable.Magic).CopyTo(footer, 40);
        file.AddRange(footer);
        string index = Path.Combine(_dir, "model.ckpt.index");
        File.WriteAllBytes(index, file.ToArray());
        Assert.Contains("claims to expand to", OneLine(() => TensorBundle.Open(index)));
    }
}
