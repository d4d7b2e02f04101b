using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow.Proto;

namespace Gpt2Onnx.TestSupport;

/// <summary>
/// Writes TensorFlow checkpoints (TensorBundle) for tests, written from the format's description rather than
/// the reader: an index table of several small data blocks (two entries per restart, so keys share prefixes),
/// optionally snappy-compressed, an index block, an empty metaindex and the footer; data spread over shards.
/// </summary>
public static class TfBundleWriter
{
    /// <summary>A variable: TensorFlow DataType (1 float, 14 bfloat16, 19 half, 9 int64), shape, bytes.</summary>
    /// <param name="BadChecksum">store a checksum that does not match, so that reading the variable fails</param>
    public sealed record Variable(string Name, int DType, long[] Shape, byte[] Data, bool BadChecksum = false);

    public const int EntriesPerBlock = 3;

    /// <summary>Writes PREFIX.index and PREFIX.data-*-of-N; returns the index path.</summary>
    public static string Write(string prefix, IEnumerable<Variable> variables, int shards = 1, bool snappy = false)
    {
        var sorted = variables.OrderBy(v => v.Name, StringComparer.Ordinal).ToList();
        var entries = new List<(string Key, byte[] Value)>
        {
            ("", new BundleHeaderProto { NumShards = shards, Version = new VersionDef { Producer = 1 } }.ToByteArray()),
        };
        var data = Enumerable.Range(0, shards).Select(_ => new MemoryStream()).ToArray();
        for (int i = 0; i < sorted.Count; i++)
        {
            var v = sorted[i];
            int shard = i % shards;
            var entry = new BundleEntryProto
            {
                Dtype = v.DType, ShardId = shard, Offset = data[shard].Length, Size = v.Data.Length,
                Crc32C = Crc32C.Mask(Crc32C.Compute(v.Data) ^ (v.BadChecksum ? 1u : 0u)),
                Shape = new TensorShapeProto(),
            };
            entry.Shape.Dim.AddRange(v.Shape.Select(d => new TensorShapeProto.Types.Dim { Size = d }));
            data[shard].Write(v.Data);
            entries.Add((v.Name, entry.ToByteArray()));
        }
        for (int s = 0; s < shards; s++) File.WriteAllBytes($"{prefix}.data-{s:D5}-of-{shards:D5}", data[s].ToArray());
        File.WriteAllBytes(prefix + ".index", Table(entries, snappy));
        return prefix + ".index";
    }

    /// <summary>The sorted table: data blocks, metaindex, index block, footer.</summary>
    public static byte[] Table(List<(string Key, byte[] Value)> entries, bool snappy)
    {
        var file = new MemoryStream();
        var index = new List<(string, byte[])>();
        foreach (var chunk in entries.Chunk(EntriesPerBlock))
        {
            var handle = AppendBlock(file, Block(chunk), snappy);
            index.Add((chunk[^1].Key, handle));
        }
        var metaindex = AppendBlock(file, Block([]), snappy);
        var indexHandle = AppendBlock(file, Block(index), snappy);
        var footer = new byte[48];
        metaindex.Concat(indexHandle).ToArray().CopyTo(footer, 0);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), SsTable.Magic);
        file.Write(footer);
        return file.ToArray();
    }

    private static byte[] Block(IEnumerable<(string Key, byte[] Value)> entries)
    {
        var block = new MemoryStream();
        var restarts = new List<uint>();
        byte[] previous = [];
        int n = 0;
        foreach (var (key, value) in entries)
        {
            var bytes = Encoding.UTF8.GetBytes(key);
            int shared = 0;
            if (n++ % 2 == 0) restarts.Add((uint)block.Length);
            else
                while (shared < previous.Length && shared < bytes.Length && previous[shared] == bytes[shared]) shared++;
            Varint(block, (ulong)shared);
            Varint(block, (ulong)(bytes.Length - shared));
            Varint(block, (ulong)value.Length);
            block.Write(bytes, shared, bytes.Length - shared);
            block.Write(value);
            previous = bytes;
        }
        if (restarts.Count == 0) restarts.Add(0);
        Span<byte> word = stackalloc byte[4];
        foreach (var r in restarts.Append((uint)restarts.Count))
        {
            BinaryPrimitives.WriteUInt32LittleEndian(word, r);
            block.Write(word);
        }
        return block.ToArray();
    }

    /// <summary>Appends a block and its trailer (compression byte, masked CRC-32C); returns its handle.</summary>
    private static byte[] AppendBlock(MemoryStream file, byte[] block, bool snappy)
    {
        var stored = snappy ? Snappier.Snappy.CompressToArray(block) : block;
        var handle = new MemoryStream();
        Varint(handle, (ulong)file.Length);
        Varint(handle, (ulong)stored.Length);
        file.Write(stored);
        var withType = stored.Append((byte)(snappy ? 1 : 0)).ToArray();
        file.WriteByte(withType[^1]);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(crc, Crc32C.Mask(Crc32C.Compute(withType)));
        file.Write(crc);
        return handle.ToArray();
    }

    private static void Varint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }

    /// <summary>float32 values as a variable's bytes.</summary>
    public static Variable Floats(string name, long[] shape, float[] values) =>
        new(name, 1, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
}
