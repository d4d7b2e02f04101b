using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Core.Tests;

/// <summary>
/// safetensors headers name element types as the format's specification does (F32, BF16, I64, ...), mapped onto the
/// one element-type enum, TensorElementType.
/// </summary>
public sealed class SafeTensorsDTypeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("gpt2onnx-core-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(TensorElementType.Float, "F32", 4)]
    [InlineData(TensorElementType.Float16, "F16", 2)]
    [InlineData(TensorElementType.BFloat16, "BF16", 2)]
    [InlineData(TensorElementType.Double, "F64", 8)]
    [InlineData(TensorElementType.Int64, "I64", 8)]
    [InlineData(TensorElementType.Int32, "I32", 4)]
    [InlineData(TensorElementType.Int16, "I16", 2)]
    [InlineData(TensorElementType.Int8, "I8", 1)]
    [InlineData(TensorElementType.UInt8, "U8", 1)]
    [InlineData(TensorElementType.Bool, "BOOL", 1)]
    public void A_tensor_is_written_with_the_specification_s_dtype_name_and_read_back_as_its_type(
        TensorElementType type, string name, int elementBytes)
    {
        string path = Path.Combine(_dir, "t.safetensors");
        SafeTensorsFile.Write(path, [new SafeTensorsFile.Entry("x", type, [3], new byte[3 * elementBytes])]);

        Assert.Equal(name, HeaderDType(path, "x"));
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(type, file.Tensors["x"].DType);
        Assert.Equal(3 * elementBytes, file.Tensors["x"].ByteLength);
    }

    /// <summary>The dtype string in the file's JSON header: an 8-byte little-endian length, then the JSON.</summary>
    private static string HeaderDType(string path, string tensor)
    {
        byte[] bytes = File.ReadAllBytes(path);
        int length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(Encoding.UTF8.GetString(bytes, 8, length));
        return header.RootElement.GetProperty(tensor).GetProperty("dtype").GetString()!;
    }
}
