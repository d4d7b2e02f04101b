using Google.Protobuf;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Protobuf's wire format over a seekable stream, for readers of a model.onnx's graph that skip its weights;
/// anything malformed is an <see cref="InvalidDataException"/>. Its readers take field numbers from the generated
/// ONNX schema (Gpt2Onnx.Core.Onnx.Proto); they do not parse with it because a parsed ModelProto holds every
/// weight in memory (docs/architecture.md, "The ONNX schema").
/// </summary>
internal sealed class ProtoReader(Stream stream)
{
    private const int MaxString = 1 << 16; // names and op types; longer ones are not what its readers look for

    public long Position => stream.Position;

    /// <summary>Calls <paramref name="read"/> with each field's number, wire type and end, up to an end.</summary>
    public void Fields(long end, Action<int, WireFormat.WireType, long> read)
    {
        while (stream.Position < end)
        {
            ulong key = Varint();
            int field = (int)Math.Min(key >> 3, int.MaxValue);
            var wire = (WireFormat.WireType)(key & 7);
            bool delimited = wire == WireFormat.WireType.LengthDelimited;
            long length = delimited ? (long)Math.Min(Varint(), (ulong)long.MaxValue / 2) : 0;
            long fieldEnd = delimited ? Checked(stream.Position + length, end) : end;
            read(field, wire, fieldEnd);
            if (stream.Position > end) throw new InvalidDataException();
        }
    }

    public ulong Varint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 70; shift += 7)
        {
            int b = stream.ReadByte();
            if (b < 0) throw new InvalidDataException();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException();
    }

    public string String(long end)
    {
        long length = end - stream.Position;
        if (length > MaxString) { SkipTo(end); return ""; }
        var bytes = new byte[length];
        stream.ReadExactly(bytes);
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    public void Skip(WireFormat.WireType wire, long fieldEnd)
    {
        switch (wire)
        {
            case WireFormat.WireType.Varint: Varint(); break;
            case WireFormat.WireType.Fixed64: SkipTo(Checked(stream.Position + 8, fieldEnd)); break;
            case WireFormat.WireType.LengthDelimited: SkipTo(fieldEnd); break;
            case WireFormat.WireType.Fixed32: SkipTo(Checked(stream.Position + 4, fieldEnd)); break;
            default: throw new InvalidDataException(); // groups: not in ONNX files
        }
    }

    public void SkipTo(long end) => stream.Position = end;

    private static long Checked(long position, long end) =>
        position <= end ? position : throw new InvalidDataException();
}
