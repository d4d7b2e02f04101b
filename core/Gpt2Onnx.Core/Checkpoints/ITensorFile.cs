using System.Runtime.InteropServices;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>A file of named tensors a checkpoint's weights come from: model.safetensors or pytorch_model.bin.</summary>
public interface ITensorFile : IDisposable
{
    string Path { get; }
    IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    /// <summary>The file's own key/value notes (safetensors' __metadata__; none in a torch.save file).</summary>
    IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>One tensor's values as contiguous little-endian bytes of its dtype, copied into <paramref
    /// name="destination"/> (exactly its size).</summary>
    void ReadBytes(SafeTensorInfo tensor, Span<byte> destination);
}

public static class TensorFileReading
{
    /// <summary>One floating-point tensor as float32 (F16 and BF16 widened exactly, F64 rounded).</summary>
    public static float[] ReadFloat32(this ITensorFile file, SafeTensorInfo tensor)
    {
        var result = new float[tensor.ElementCount];
        switch (tensor.DType)
        {
            case TensorElementType.Float:
                file.ReadBytes(tensor, MemoryMarshal.AsBytes(result.AsSpan()));
                break;
            case TensorElementType.Float16:
            {
                var halves = new Half[result.Length];
                file.ReadBytes(tensor, MemoryMarshal.AsBytes(halves.AsSpan()));
                for (int i = 0; i < result.Length; i++) result[i] = (float)halves[i];
                break;
            }
            case TensorElementType.BFloat16:
            {
                var raw = new ushort[result.Length];
                file.ReadBytes(tensor, MemoryMarshal.AsBytes(raw.AsSpan()));
                for (int i = 0; i < result.Length; i++) result[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                break;
            }
            case TensorElementType.Double:
            {
                var doubles = new double[result.Length];
                file.ReadBytes(tensor, MemoryMarshal.AsBytes(doubles.AsSpan()));
                for (int i = 0; i < result.Length; i++) result[i] = (float)doubles[i];
                break;
            }
            default:
                throw new Gpt2OnnxException($"{file.Path}: the tensor '{tensor.Name}' is " +
                                            $"{SafeTensorsFile.DTypeName(tensor.DType)}, not a floating-point type: " +
                                            "is this a model checkpoint?");
        }
        return result;
    }

    /// <summary>
    /// Copies the elements of a strided view of <paramref name="source"/> (<paramref name="shape"/>, element
    /// <paramref name="strides"/>, starting at element 0) into <paramref name="destination"/> in row-major order.
    /// </summary>
    public static void Gather(ReadOnlySpan<byte> source, Span<byte> destination, long[] shape, long[] strides,
                              int elementSize)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        var index = new long[shape.Length];
        long from = 0;
        for (long i = 0; i < count; i++)
        {
            source.Slice((int)(from * elementSize), elementSize).CopyTo(destination[(int)(i * elementSize)..]);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                from += strides[d];
                if (++index[d] < shape[d]) break;
                from -= strides[d] * shape[d];
                index[d] = 0;
            }
        }
    }

    /// <summary>
    /// A row-major [rows, columns] matrix written as its transpose [columns, rows] (a gather with strides
    /// [1, columns]): nn.Linear's [out, in] weights as GPT-2's Conv1D [in, out].
    /// </summary>
    public static void Transpose(ReadOnlySpan<byte> source, Span<byte> destination, long rows, long columns,
                                 int elementSize) =>
        Gather(source, destination, [columns, rows], [1, columns], elementSize);

    /// <summary>Fills <paramref name="destination"/> from <paramref name="offset"/> in the file, or fails with the
    /// file's name.</summary>
    public static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> destination, long offset,
                                   string path)
    {
        while (!destination.IsEmpty)
        {
            int read = RandomAccess.Read(file, destination, offset);
            if (read == 0) throw new Gpt2OnnxException($"{path} ended early: the file is truncated or changed while " +
                                                       "being read");
            destination = destination[read..];
            offset += read;
        }
    }
}
