namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Element types, numbered as c10::ScalarType numbers them (stable across libtorch releases).</summary>
public enum ScalarType
{
    UInt8 = 0,
    Int8 = 1,
    Int32 = 3,
    Int64 = 4,
    Float16 = 5,
    Float32 = 6,
    Float64 = 7,
    Bool = 11,
    BFloat16 = 15,
}

public static class ScalarTypes
{
    /// <summary>The scalar type that holds a .NET element type.</summary>
    public static ScalarType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? ScalarType.Float32
        : typeof(T) == typeof(double) ? ScalarType.Float64
        : typeof(T) == typeof(long) ? ScalarType.Int64
        : typeof(T) == typeof(int) ? ScalarType.Int32
        : typeof(T) == typeof(byte) ? ScalarType.UInt8
        : typeof(T) == typeof(sbyte) ? ScalarType.Int8
        : typeof(T) == typeof(bool) ? ScalarType.Bool
        : typeof(T) == typeof(Half) ? ScalarType.Float16
        : throw new ArgumentException($"{typeof(T).Name} has no libtorch scalar type");
}
