using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core.IO;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Writes torch tensors as a float32 safetensors file straight from their memory, one slice at a time, so a
/// save holds no second copy of the weights or the optimizer state (a 1.5B model's would be 6 GB). The file is
/// written under a temporary name and renamed.
/// </summary>
public static class TensorFileWriter
{
    /// <summary>Elements per write: bounds the temporary a tensor on another device needs on the CPU.</summary>
    private const long SliceElements = 1 << 22;

    public static void Write(string path, IReadOnlyList<(string Name, Tensor Value)> tensors,
                             IReadOnlyDictionary<string, string> metadata)
    {
        byte[] header = Header(tensors, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
            stream.Write(length);
            stream.Write(header);
            foreach (var (_, value) in tensors) WriteValues(stream, value);
        });
    }

    /// <summary>The JSON header (names, F32, shapes, offsets), padded with spaces to 8-byte alignment.</summary>
    private static byte[] Header(IReadOnlyList<(string Name, Tensor Value)> tensors,
                                 IReadOnlyDictionary<string, string> metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, value) in tensors)
            {
                long bytes = value.numel() * sizeof(float);
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (long d in value.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        int padding = (int)((8 - (8 + buffer.Length) % 8) % 8);
        buffer.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        return buffer.ToArray();
    }

    /// <summary>A tensor's values as float32, from the CPU tensor's own memory where it already is one.</summary>
    private static void WriteValues(Stream stream, Tensor value)
    {
        using var scope = NewDisposeScope();
        var flat = value.detach().reshape(-1);                                             // (N,)
        for (long start = 0; start < flat.shape[0]; start += SliceElements)
        {
            using var slice = NewDisposeScope();
            var part = flat.narrow(0, start, Math.Min(SliceElements, flat.shape[0] - start))
                .to_type(ScalarType.Float32).cpu().contiguous();
            stream.Write(part.bytes);
        }
    }
}
