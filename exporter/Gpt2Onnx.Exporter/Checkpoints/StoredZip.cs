using System.Buffers.Binary;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>One member of a zip archive: where its bytes start in the file, and how many there are.</summary>
public sealed record ZipMember(string Name, long DataStart, long Length);

/// <summary>
/// The members of a zip archive whose members are stored uncompressed, as torch.save writes them, with the
/// offset of each member's bytes in the file so a tensor is read with positioned reads (no copy of the member
/// through a stream). Reads the central directory (zip64 too), then each member's local header for where its
/// data starts. Every offset and size is checked against the file before it is used, and the directory is
/// bounded, so a damaged or hostile archive is one clear error.
/// </summary>
public static class StoredZip
{
    private const uint EndOfDirectorySignature = 0x06054b50, Zip64LocatorSignature = 0x07064b50,
                        Zip64EndSignature = 0x06064b50, DirectoryEntrySignature = 0x02014b50,
                        LocalHeaderSignature = 0x04034b50;
    private const int MaxCommentBytes = 65535, MaxDirectoryBytes = 64 << 20;

    /// <summary>True when the file starts like a zip archive (a local header), as torch.save's default format
    /// does.</summary>
    public static bool LooksLikeZip(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(start) == LocalHeaderSignature;

    public static Dictionary<string, ZipMember> ReadMembers(string path,
                                                            Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        long length = RandomAccess.GetLength(file);
        Exception Damaged(string what) =>
            new Gpt2OnnxException($"{path}: {what}: the zip archive is truncated or damaged; save it again");

        // The end-of-directory record sits in the last 22 bytes plus at most a 64 KB comment.
        int tailLength = (int)Math.Min(length, 22 + MaxCommentBytes + 20);
        var tail = new byte[tailLength];
        TensorFileReading.ReadExactly(file, tail, length - tailLength, path);
        int end = -1;
        for (int i = tailLength - 22; i >= 0; i--)
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(i)) == EndOfDirectorySignature) { end = i; break; }
        if (end < 0) throw Damaged("no end-of-directory record");
        long entries = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(end + 10));
        long directorySize = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 12));
        long directoryStart = BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end + 16));
        if (entries == 0xFFFF || directorySize == 0xFFFFFFFF || directoryStart == 0xFFFFFFFF)
        {
            if (end < 20 || BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(end - 20)) != Zip64LocatorSignature)
                throw Damaged("a zip64 archive without its locator");
            long recordStart = BinaryPrimitives.ReadInt64LittleEndian(tail.AsSpan(end - 12));
            if (recordStart < 0 || recordStart > length - 56)
                throw Damaged("the zip64 end record lies outside the file");
            var record = new byte[56];
            TensorFileReading.ReadExactly(file, record, recordStart, path);
            if (BinaryPrimitives.ReadUInt32LittleEndian(record) != Zip64EndSignature)
                throw Damaged("no zip64 end record where the locator points");
            entries = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(32));
            directorySize = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(40));
            directoryStart = BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(48));
        }
        if (directorySize < 0 || directorySize > MaxDirectoryBytes || directoryStart < 0
            || directoryStart > length - directorySize)
            throw Damaged($"the central directory ({directorySize} bytes at {directoryStart}) does not fit in the " +
                          $"{length}-byte file");
        if (entries < 0 || entries > directorySize / 46)
            throw Damaged($"{entries} members cannot fit in a {directorySize}-byte directory");

        var directory = new byte[directorySize];
        TensorFileReading.ReadExactly(file, directory, directoryStart, path);
        var members = new Dictionary<string, ZipMember>(StringComparer.Ordinal);
        int at = 0;
        var localHeader = new byte[30];
        for (long n = 0; n < entries; n++)
        {
            if (at > directory.Length - 46
                || BinaryPrimitives.ReadUInt32LittleEndian(directory.AsSpan(at)) != DirectoryEntrySignature)
                throw Damaged($"member {n + 1} of {entries} is missing from the central directory");
            var entry = directory.AsSpan(at);
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(entry[8..]),
            method = BinaryPrimitives.ReadUInt16LittleEndian(entry[10..]);
            long compressed = BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]),
            size = BinaryPrimitives.ReadUInt32LittleEndian(entry[24..]);
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[28..]),
            extraLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[30..]);
            int commentLength = BinaryPrimitives.ReadUInt16LittleEndian(entry[32..]);
            long headerStart = BinaryPrimitives.ReadUInt32LittleEndian(entry[42..]);
            if (at + 46 + nameLength + extraLength + commentLength > directory.Length)
                throw Damaged($"member {n + 1}'s directory entry runs past the directory");
            string name = Encoding.UTF8.GetString(entry.Slice(46, nameLength));
            ReadZip64Sizes(entry.Slice(46 + nameLength, extraLength), ref size, ref compressed, ref headerStart);
            at += 46 + nameLength + extraLength + commentLength;

            if ((flags & 1) != 0) throw new Gpt2OnnxException($"{path}: '{name}' is encrypted: torch.save does not " +
                                                              "write encrypted archives; save the checkpoint again");
            if (method != 0 || compressed != size)
                throw new Gpt2OnnxException($"{path}: '{name}' is compressed (method {method}); torch.save stores " +
                                            "members uncompressed: unzip and re-save with torch.save, or write " +
                                            "model.safetensors");
            if (headerStart < 0 || headerStart > length - 30) throw Damaged($"'{name}' starts outside the file");
            TensorFileReading.ReadExactly(file, localHeader, headerStart, path);
            if (BinaryPrimitives.ReadUInt32LittleEndian(localHeader) != LocalHeaderSignature)
                throw Damaged($"no local header where '{name}' should start");
            long dataStart = headerStart + 30 + BinaryPrimitives.ReadUInt16LittleEndian(localHeader.AsSpan(26))
                + BinaryPrimitives.ReadUInt16LittleEndian(localHeader.AsSpan(28));
            if (size < 0 || dataStart > length || size > length - dataStart)
                throw Damaged($"'{name}' ({size} bytes) runs past the end of the file");
            if (!members.TryAdd(name, new ZipMember(name, dataStart, size))) throw Damaged($"'{name}' appears twice");
        }
        return members;
    }

    /// <summary>The zip64 extra field (id 1) holds, in order, whichever of the sizes and the offset did not fit in 32
    /// bits.</summary>
    private static void ReadZip64Sizes(ReadOnlySpan<byte> extra, ref long size, ref long compressed,
                                       ref long headerStart)
    {
        while (extra.Length >= 4)
        {
            int id = BinaryPrimitives.ReadUInt16LittleEndian(extra),
            fieldLength = BinaryPrimitives.ReadUInt16LittleEndian(extra[2..]);
            if (fieldLength > extra.Length - 4) return;
            var field = extra.Slice(4, fieldLength);
            if (id == 1)
            {
                long Next(ref ReadOnlySpan<byte> f)
                {
                    // a field too short for what it must hold: rejected by the range checks
                    if (f.Length < 8) return -1;
                    long value = BinaryPrimitives.ReadInt64LittleEndian(f);
                    f = f[8..];
                    return value;
                }
                if (size == 0xFFFFFFFF) size = Next(ref field);
                if (compressed == 0xFFFFFFFF) compressed = Next(ref field);
                if (headerStart == 0xFFFFFFFF) headerStart = Next(ref field);
                return;
            }
            extra = extra[(4 + fieldLength)..];
        }
    }
}
