namespace Gpt2Onnx.Trainer.Torch;

/// <summary>A libtorch tensor owned from C#. Dispose it (or let a dispose scope do it); the GC is a last resort.</summary>
public sealed unsafe class Tensor : IDisposable
{
    private readonly TensorHandle _handle;

    internal Tensor(IntPtr handle) => _handle = new TensorHandle(TorchNative.Check(handle));

    internal IntPtr Handle => _handle.DangerousGetHandle();

    /// <summary>A new CPU tensor holding a copy of <paramref name="data"/>, viewed as <paramref name="shape"/>.</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data, params ReadOnlySpan<long> shape) where T : unmanaged
    {
        fixed (T* source = data)
        fixed (long* dims = shape)
            return new Tensor(TorchNative.g2t_tensor_from_data(source, (long)data.Length * sizeof(T), dims, shape.Length,
                                                                 (int)ScalarTypes.Of<T>()));
    }

    public ScalarType DType => (ScalarType)TorchNative.Check(TorchNative.g2t_tensor_dtype(Handle));

    public long[] Shape
    {
        get
        {
            Span<long> dims = stackalloc long[16];
            int ndim;
            fixed (long* p = dims)
                ndim = TorchNative.Check(TorchNative.g2t_tensor_shape(Handle, p, dims.Length));
            return dims[..ndim].ToArray();
        }
    }

    public long NumberOfElements
    {
        get
        {
            long n = 1;
            foreach (var d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Copies every element, row-major, into <paramref name="destination"/> (exactly the tensor's size).</summary>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        if (ScalarTypes.Of<T>() != DType)
            throw new ArgumentException($"the tensor holds {DType}, not {typeof(T).Name}");
        fixed (T* p = destination)
            TorchNative.Check(TorchNative.g2t_tensor_copy_to(Handle, p, (long)destination.Length * sizeof(T)));
    }

    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[NumberOfElements];
        CopyTo<T>(result);
        return result;
    }

    public void Dispose() => _handle.Dispose();
}
