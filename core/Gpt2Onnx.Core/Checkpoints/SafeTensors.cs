using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>Element types a safetensors file may declare, with their sizes in bytes.</summary>

/// <summary>One tensor's entry in a safetensors header: where its bytes lie in the data section.</summary>
public sealed record SafeTensorInfo(string Name, TensorElementType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public long ByteLength => End - Begin;
}

/// <summary>
/// A safetensors file: an 8-byte little-endian header length, a JSON header (name →
/// dtype, shape, data_offsets; optional __metadata__), then the raw little-endian data. The header is
/// validated before any tensor is touched: offsets inside the file, no overlaps, sizes that match the
/// dtype and shape, a bounded header. Tensors are read one at a time with positioned reads (not a memory
/// map, whose pages would stay resident beside the copies), so weights stream through memory (the peak a map
/// costs: docs/performance.md).
/// </summary>
public sealed class SafeTensorsFile : ITensorFile
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _file;
    private readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, Microsoft.Win32.SafeHandles.SafeFileHandle file, long dataStart,
                            Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        _file = file;
        _dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public static int ElementSize(TensorElementType dtype) => dtype.SizeOf();

    /// <summary>The element types a safetensors header names, by the names it gives them.</summary>
    private static readonly Dictionary<string, TensorElementType> DTypes = new(StringComparer.Ordinal)
    {
        ["F32"] = TensorElementType.Float, ["F16"] = TensorElementType.Float16, ["BF16"] = TensorElementType.BFloat16,
        ["F64"] = TensorElementType.Double, ["I64"] = TensorElementType.Int64, ["I32"] = TensorElementType.Int32,
        ["I16"] = TensorElementType.Int16, ["I8"] = TensorElementType.Int8, ["U8"] = TensorElementType.UInt8,
        ["BOOL"] = TensorElementType.Bool,
    };

    /// <summary>The name a safetensors header gives <paramref name="dtype"/> (F32, BF16, I64, ...).</summary>
    public static string DTypeName(TensorElementType dtype) => DTypes.First(d => d.Value == dtype).Key;

    public static SafeTensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}: a checkpoint folder needs " +
                                        "model.safetensors (or pytorch_model.bin, as torch.save writes it, or the " +
                                        "index.json of either one split into shards)");
        long fileLength = info.Length;
        if (fileLength < 8) throw new Gpt2OnnxException($"{path} is truncated ({fileLength} bytes, less than the " +
                                                        "8-byte header length): the file is damaged; write it again");
        byte[] header;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            // The 8 bytes of the length itself come first, so a header of the file's whole length does not fit.
            if (headerLength > (ulong)MaxHeaderBytes || 8 + (long)headerLength > fileLength)
                throw new Gpt2OnnxException($"{path}: its header says its JSON takes {headerLength:N0} bytes, but " +
                                            $"only {fileLength - 8:N0} follow the 8-byte length: the file is " +
                                            "truncated or not safetensors");
            header = new byte[headerLength];
            stream.ReadExactly(header);
        }
        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        var (tensors, metadata) = ParseHeader(path, header, dataLength);

        return new SafeTensorsFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read),
                                   dataStart, tensors, metadata);
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path,
        byte[] header, long dataLength)
    {
        var tensors = new Dictionary<string, SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        string? current = null; // the entry being read, for the error
        try
        {
            using var json = JsonDocument.Parse(header);
            if (json.RootElement.ValueKind != JsonValueKind.Object)
                throw new Gpt2OnnxException($"{path}: the header is not a JSON object: the file is not safetensors");
            foreach (var entry in json.RootElement.EnumerateObject())
            {
                current = entry.Name;
                if (entry.Name == "__metadata__")
                {
                    foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                    continue;
                }
                var value = entry.Value;
                string dtypeText = value.GetProperty("dtype").GetString() ?? "";
                if (!DTypes.TryGetValue(dtypeText, out var dtype))
                    throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' has the unknown dtype " +
                                                $"'{dtypeText}' (known: F32, F16, BF16, F64, I64, I32, I16, I8, U8, " +
                                                "BOOL)");
                var shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
                if (offsets.Length != 2 || shape.Any(d => d < 0))
                    throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' has a malformed shape or " +
                                                "data_offsets: the file is damaged");
                var tensor = new SafeTensorInfo(entry.Name, dtype, shape, offsets[0], offsets[1]);
                if (tensor.Begin < 0 || tensor.End < tensor.Begin || tensor.End > dataLength)
                    throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' points at bytes " +
                                                $"{tensor.Begin}..{tensor.End}, outside the {dataLength}-byte data " +
                                                "section: the file is truncated or damaged");
                long elements = 1;
                foreach (var d in shape)
                    if (d != 0 && elements > long.MaxValue / ElementSize(dtype) / d)
                        throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' has the shape " +
                                                    $"[{string.Join(", ", shape)}], more bytes than any file holds: " +
                                                    "the file is damaged or hostile");
                    else elements *= d;
                if (elements * ElementSize(dtype) != tensor.ByteLength)
                    throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' ({dtypeText} " +
                                                $"[{string.Join(", ", shape)}]) needs " +
                                                $"{elements * ElementSize(dtype)} bytes but is given " +
                                                $"{tensor.ByteLength}: the file is damaged");
                if (!tensors.TryAdd(entry.Name, tensor))
                    throw new Gpt2OnnxException($"{path}: the tensor '{entry.Name}' appears twice in the header: the " +
                                                "file is damaged");
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException
                                  or FormatException or OverflowException)
        {
            string what = e is KeyNotFoundException ? "dtype, shape or data_offsets is missing" : JsonText.Describe(e);
            throw new Gpt2OnnxException($"{path}: the header is not valid safetensors " +
                                        $"JSON{(current == null ? "" : $" at '{current}'")} ({what}): the file is " +
                                        "damaged; write it again");
        }
        var ordered = tensors.Values.OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < ordered.Count; i++)
            if (ordered[i].Begin < ordered[i - 1].End)
                throw new Gpt2OnnxException($"{path}: the tensors '{ordered[i - 1].Name}' and '{ordered[i].Name}' " +
                                            "overlap in the file: the file is damaged or hostile");
        return (tensors, metadata);
    }

    /// <summary>The raw bytes of one tensor, copied into <paramref name="destination"/> (exactly its size).</summary>
    public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
    {
        if (destination.Length != tensor.ByteLength)
            throw new ArgumentException("destination size differs from the tensor's");
        long offset = _dataStart + tensor.Begin;
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(_file, destination, offset);
            if (read == 0) throw new Gpt2OnnxException($"{Path} ended early while reading '{tensor.Name}': the file " +
                                                       "changed or is damaged");
            destination = destination[read..];
            offset += read;
        }
    }

    public void Dispose() => _file.Dispose();

    /// <summary>A tensor to write: its name, dtype, shape and raw little-endian bytes.</summary>
    public sealed record Entry(string Name, TensorElementType DType, long[] Shape, ReadOnlyMemory<byte> Data);

    /// <summary>Writes a safetensors file atomically (temporary name, then rename). Tensors are stored in the order
    /// given.</summary>
    public static void Write(string path, IEnumerable<Entry> entries,
                             IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = entries.ToList();
        var header = new StringBuilder();
        using (var buffer = new MemoryStream())
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var e in list)
            {
                long expected = e.Shape.Aggregate(1L, (a, b) => a * b) * ElementSize(e.DType);
                if (expected != e.Data.Length)
                    throw new ArgumentException($"tensor {e.Name}: {e.Data.Length} bytes for a shape that needs " +
                                                $"{expected}");
                json.WriteStartObject(e.Name);
                json.WriteString("dtype", DTypeName(e.DType));
                json.WriteStartArray("shape");
                foreach (var d in e.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + e.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += e.Data.Length;
            }
            json.WriteEndObject();
            json.Flush();
            header.Append(Encoding.UTF8.GetString(buffer.ToArray()));
        }
        // The data section starts 8-byte aligned, padding the header with spaces as the format allows.
        while ((8 + Encoding.UTF8.GetByteCount(header.ToString())) % 8 != 0) header.Append(' ');
        byte[] headerBytes = Encoding.UTF8.GetBytes(header.ToString());

        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)headerBytes.Length);
            stream.Write(length);
            stream.Write(headerBytes);
            foreach (var e in list) stream.Write(e.Data.Span);
        });
    }
}
