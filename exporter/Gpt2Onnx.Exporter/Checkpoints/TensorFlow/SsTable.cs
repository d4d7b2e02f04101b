using System.Buffers.Binary;
using System.Text;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// A LevelDB-style sorted table, the format of a TensorFlow checkpoint's .index file: data blocks of
/// prefix-compressed key/value entries, an index block whose values are the data blocks' handles, and a
/// 48-byte footer (metaindex and index handles as varints, padding, the magic number). Every block is
/// followed by a compression byte (0 none, 1 snappy) and the masked CRC-32C of the block and that byte,
/// which is verified. The whole file is read at once, so it is bounded by <see cref="MaxBytes"/>.
/// </summary>
public static class SsTable
{
    public const ulong Magic = 0xdb4775248b80fb57;
    /// <summary>The largest index read: GPT-2 1.5B's, with Adam's slots, is under a megabyte.</summary>
    public const long MaxBytes = 256L << 20;
    private const int FooterBytes = 48;
    private const int TrailerBytes = 5;

    /// <summary>Every key/value entry of the table at <paramref name="path"/>, in key order.</summary>
    public static List<(string Key, byte[] Value)> ReadAll(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > MaxBytes)
            throw Damaged(path, $"is {length:N0} bytes, more than the {MaxBytes >> 20} MB a checkpoint index takes");
        if (length < FooterBytes) throw Damaged(path, $"is {length} bytes, shorter than a table's 48-byte footer");
        var file = File.ReadAllBytes(path);
        var footer = file.AsSpan(file.Length - FooterBytes);
        if (BinaryPrimitives.ReadUInt64LittleEndian(footer[40..]) != Magic)
            throw Damaged(path, "does not end with a table's magic number (it is truncated, or not an index)");
        var reader = new VarintReader(footer[..40].ToArray(), path);
        reader.Handle(); // the metaindex, which TensorFlow leaves empty
        var (indexOffset, indexSize) = reader.Handle();
        var entries = new List<(string, byte[])>();
        foreach (var (_, handle) in Entries(path, Block(path, file, indexOffset, indexSize)))
        {
            var (offset, size) = new VarintReader(handle, path).Handle();
            entries.AddRange(Entries(path, Block(path, file, offset, size)));
        }
        for (int i = 1; i < entries.Count; i++)
            if (string.CompareOrdinal(entries[i - 1].Item1, entries[i].Item1) >= 0)
                throw Damaged(path, $"has its keys out of order at '{entries[i].Item1}'");
        return entries;
    }

    /// <summary>One block's contents, checked against its trailer and decompressed.</summary>
    private static byte[] Block(string path, byte[] file, ulong offset, ulong size)
    {
        if (offset > (ulong)file.Length || size > (ulong)file.Length - offset
            || (ulong)file.Length - offset - size < TrailerBytes + FooterBytes)
            throw Damaged(path, $"points at a block of {size} bytes at {offset}, past the end of the file");
        var contents = file.AsSpan((int)offset, (int)size + 1); // with the compression byte
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan((int)(offset + size + 1)));
        if (Crc32C.Unmask(stored) != Crc32C.Compute(contents))
            throw Damaged(path, $"has a block at byte {offset} whose checksum does not match its contents");
        var data = contents[..^1];
        return contents[^1] switch
        {
            0 => data.ToArray(),
            1 => Unsnappy(path, data),
            var kind => throw Damaged(path, $"has a block compressed with the unknown method {kind}"),
        };
    }

    private static byte[] Unsnappy(string path, ReadOnlySpan<byte> data)
    {
        try
        {
            // A snappy element of 3 bytes copies at most 64: a declared length beyond that ratio is a lie.
            int length = Snappier.Snappy.GetUncompressedLength(data);
            if (length > MaxBytes || length > 22L * data.Length + 64)
                throw Damaged(path, $"has a {data.Length}-byte snappy block that claims to expand to {length:N0} " +
                                    "bytes");
            var output = new byte[length];
            if (Snappier.Snappy.Decompress(data, output) != length) throw new InvalidDataException();
            return output;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            throw Damaged(path, "has a snappy-compressed block that does not decompress");
        }
    }

    /// <summary>
    /// A block's entries: each is varints (shared key bytes, new key bytes, value bytes), then the new key
    /// bytes and the value; the block ends with restart offsets (uint32 each) and their count (uint32).
    /// </summary>
    private static List<(string Key, byte[] Value)> Entries(string path, byte[] block)
    {
        if (block.Length < 4) throw Damaged(path, "has a block too short for its restart count");
        long restarts = BinaryPrimitives.ReadUInt32LittleEndian(block.AsSpan(block.Length - 4));
        long end = block.Length - 4 - 4 * restarts;
        if (restarts > block.Length / 4 || end < 0) throw Damaged(path, "has a block whose restart count exceeds it");
        var entries = new List<(string, byte[])>();
        var reader = new VarintReader(block, path, (int)end);
        byte[] key = [];
        while (reader.Position < end)
        {
            ulong shared = reader.Varint(), fresh = reader.Varint(), valueLength = reader.Varint();
            if (shared > (ulong)key.Length) throw Damaged(path, "has a key sharing more bytes than the last one has");
            var newKey = new byte[(int)shared + reader.Length(fresh)];
            key.AsSpan(0, (int)shared).CopyTo(newKey);
            reader.Bytes(fresh).CopyTo(newKey.AsSpan((int)shared));
            key = newKey;
            entries.Add((Encoding.UTF8.GetString(key), reader.Bytes(valueLength).ToArray()));
        }
        return entries;
    }

    internal static Gpt2OnnxException Damaged(string path, string what) =>
        new($"{path} {what}: the checkpoint index is damaged; copy the checkpoint again");

    /// <summary>Reads LEB128 varints and byte runs from a buffer, refusing to step past its end.</summary>
    private sealed class VarintReader(byte[] buffer, string path, int? end = null)
    {
        private readonly int _end = end ?? buffer.Length;
        public int Position { get; private set; }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (Position >= _end) throw Damaged(path, "ends in the middle of a number");
                byte b = buffer[Position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80) return value;
            }
            throw Damaged(path, "holds a number longer than ten bytes");
        }

        public (ulong Offset, ulong Size) Handle() => (Varint(), Varint());

        public int Length(ulong count) =>
            count <= (ulong)(_end - Position) ? (int)count : throw Damaged(path, "has an entry longer than its block");

        public ReadOnlySpan<byte> Bytes(ulong count)
        {
            int n = Length(count);
            var span = buffer.AsSpan(Position, n);
            Position += n;
            return span;
        }
    }
}
