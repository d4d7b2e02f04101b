namespace Gpt2Onnx.Core.Onnx;

/// <summary>Element types, numbered as ONNX's TensorProto.DataType (and ONNX Runtime) number them.</summary>
public enum TensorElementType
{
    Undefined = 0, Float = 1, UInt8 = 2, Int8 = 3, UInt16 = 4, Int16 = 5, Int32 = 6, Int64 = 7, String = 8, Bool = 9,
    Float16 = 10, Double = 11, UInt32 = 12, UInt64 = 13, BFloat16 = 16, UInt4 = 21, Int4 = 22,
}

public static class TensorElementTypes
{
    public static int SizeOf(this TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Int64 or TensorElementType.Double or TensorElementType.UInt64 => 8,
        TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Int16
            or TensorElementType.UInt16 => 2,
        TensorElementType.UInt8 or TensorElementType.Int8 or TensorElementType.Bool => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "no fixed element size"),
    };

    public static TensorElementType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(T) == typeof(long) ? TensorElementType.Int64
        : typeof(T) == typeof(int) ? TensorElementType.Int32
        : typeof(T) == typeof(Half) ? TensorElementType.Float16
        : typeof(T) == typeof(byte) ? TensorElementType.UInt8
        : typeof(T) == typeof(bool) ? TensorElementType.Bool
        : typeof(T) == typeof(double) ? TensorElementType.Double
        : throw new ArgumentException($"{typeof(T).Name} has no ONNX element type");
}
