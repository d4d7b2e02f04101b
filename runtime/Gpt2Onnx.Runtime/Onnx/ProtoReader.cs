namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Protobuf's wire format over a seekable stream, for readers of a model.onnx's graph that skip its weights;
/// anything malformed is an <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class ProtoReader(Stream stream)
{
    private const int MaxString = 1 << 16; // names and op types; longer ones are not what its readers look for

    public long Position => stream.Position;

    /// <summary>Calls <paramref name="read"/> with each field's number, wire type and end, up to an end.</summary>
    public void Fields(long end, Action<int, int, long> read)
    {
        while (stream.Position < end)
        {
            ulong key = Varint();
            int field = (int)Math.Min(key >> 3, int.MaxValue), wire = (int)(key & 7);
            long length = wire == 2 ? (long)Math.Min(Varint(), (ulong)long.MaxValue / 2) : 0;
            long fieldEnd = wire == 2 ? Checked(stream.Position + length, end) : end;
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

    public void Skip(int wire, long fieldEnd)
    {
        switch (wire)
        {
            case 0: Varint(); break;
            case 1: SkipTo(Checked(stream.Position + 8, fieldEnd)); break;
            case 2: SkipTo(fieldEnd); break;
            case 5: SkipTo(Checked(stream.Position + 4, fieldEnd)); break;
            default: throw new InvalidDataException(); // groups: not in ONNX files
        }
    }

    public void SkipTo(long end) => stream.Position = end;

    private static long Checked(long position, long end) =>
        position <= end ? position : throw new InvalidDataException();
}
