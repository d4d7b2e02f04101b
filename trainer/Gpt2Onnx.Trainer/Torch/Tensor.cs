using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// A libtorch tensor owned from C#. Every tensor an operation returns belongs to the innermost open
/// <see cref="DisposeScope"/> of its thread (if any) and is freed with it; outside a scope, dispose it yourself.
/// This file holds lifetime, metadata and data transfer; the operations are in the other Tensor*.cs files.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    private const int MaxDims = 16;
    private readonly TensorHandle _handle;

    internal Tensor(IntPtr handle)
    {
        _handle = new TensorHandle(Check(handle));
        Scope = DisposeScope.Current;
        Scope?.Add(this);
    }

    /// <summary>The scope that will free this tensor, or null when its owner disposes it.</summary>
    internal DisposeScope? Scope { get; set; }

    internal IntPtr Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle.DangerousGetHandle();
        }
    }

    /// <summary>Tensors created and not yet freed, across the process (for leak checks).</summary>
    public static long LiveCount => TensorHandle.Live;

    /// <summary>Tensors that nobody disposed, so that the GC had to free them (should stay 0).</summary>
    public static long FreedByGarbageCollector => TensorHandle.ReleasedByFinalizer;

    public void Dispose() => _handle.Dispose();

    public bool IsDisposed => _handle.IsClosed;

    // ---- creation ----------------------------------------------------------------------------------

    /// <summary>A new CPU tensor holding a copy of <paramref name="data"/>, viewed as <paramref name="shape"/>.</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data, params ReadOnlySpan<long> shape) where T : unmanaged
    {
        fixed (T* source = data)
        fixed (long* dims = shape)
            return new Tensor(g2t_tensor_from_data(source, (long)data.Length * sizeof(T), dims, shape.Length, (int)ScalarTypes.Of<T>()));
    }

    public static Tensor Zeros(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32) => New(0, shape, dtype);
    public static Tensor Ones(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32) => New(1, shape, dtype);
    public static Tensor Empty(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32) => New(2, shape, dtype);
    /// <summary>Standard normal values from the default generator.</summary>
    public static Tensor Randn(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32) => New(3, shape, dtype);
    /// <summary>Uniform values in [0, 1) from the default generator.</summary>
    public static Tensor Rand(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32) => New(4, shape, dtype);

    public static Tensor Full(ReadOnlySpan<long> shape, double value, ScalarType dtype = ScalarType.Float32)
    {
        fixed (long* dims = shape)
            return new Tensor(g2t_tensor_full(dims, shape.Length, value, (int)dtype));
    }

    /// <summary>start, start+1, ..., end-1.</summary>
    public static Tensor Arange(long start, long end, ScalarType dtype = ScalarType.Int64) =>
        new(g2t_tensor_arange(start, end, (int)dtype));

    private static Tensor New(int kind, ReadOnlySpan<long> shape, ScalarType dtype)
    {
        fixed (long* dims = shape)
            return new Tensor(g2t_tensor_new(kind, dims, shape.Length, (int)dtype));
    }

    // ---- metadata ----------------------------------------------------------------------------------

    public ScalarType DType => (ScalarType)Check(g2t_tensor_dtype(Handle));

    public int Dimensions => Check(g2t_tensor_ndim(Handle));

    public long[] Shape
    {
        get
        {
            long* dims = stackalloc long[MaxDims];
            int ndim = Check(g2t_tensor_shape(Handle, dims, MaxDims));
            return new ReadOnlySpan<long>(dims, ndim).ToArray();
        }
    }

    /// <summary>The size of one dimension (negative counts from the end).</summary>
    public long Size(int dim)
    {
        long* dims = stackalloc long[MaxDims];
        int ndim = Check(g2t_tensor_shape(Handle, dims, MaxDims));
        int d = dim < 0 ? dim + ndim : dim;
        if ((uint)d >= (uint)ndim) throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} of a {ndim}-d tensor");
        return dims[d];
    }

    public long[] Strides
    {
        get
        {
            long* strides = stackalloc long[MaxDims];
            int ndim = Check(g2t_tensor_strides(Handle, strides, MaxDims));
            return new ReadOnlySpan<long>(strides, ndim).ToArray();
        }
    }

    public long NumberOfElements => Check(g2t_tensor_numel(Handle));

    public bool IsContiguous => Check(g2t_tensor_is_contiguous(Handle)) == 1;

    public Device Device
    {
        get
        {
            int device = g2t_tensor_device(Handle);
            if (device < -1) CheckError();
            return new Device(device);
        }
    }

    public bool RequiresGrad
    {
        get => Check(g2t_tensor_requires_grad(Handle)) == 1;
        set => Check(g2t_tensor_set_requires_grad(Handle, value ? 1 : 0));
    }

    public override string ToString() => $"Tensor({DType}, [{string.Join(", ", Shape)}], {Device})";

    // ---- data --------------------------------------------------------------------------------------

    /// <summary>Copies every element, row-major, into <paramref name="destination"/> (exactly the tensor's size).</summary>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        RequireType<T>();
        fixed (T* p = destination)
            Check(g2t_tensor_copy_to(Handle, p, (long)destination.Length * sizeof(T)));
    }

    /// <summary>Overwrites every element from <paramref name="source"/> (in place, outside autograd).</summary>
    public void CopyFrom<T>(ReadOnlySpan<T> source) where T : unmanaged
    {
        RequireType<T>();
        fixed (T* p = source)
            Check(g2t_tensor_copy_from(Handle, p, (long)source.Length * sizeof(T)));
    }

    /// <summary>
    /// The elements of a contiguous CPU tensor, in place, without a copy. The span is valid while this
    /// tensor is alive and not resized; do not keep it past either.
    /// </summary>
    public Span<T> DataSpan<T>() where T : unmanaged
    {
        RequireType<T>();
        void* data = g2t_tensor_data_ptr(Handle);
        if (data == null) CheckError();
        return new Span<T>(data, checked((int)NumberOfElements));
    }

    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[NumberOfElements];
        CopyTo<T>(result);
        return result;
    }

    /// <summary>The value of a one-element tensor.</summary>
    public double ToDouble()
    {
        double value = g2t_tensor_item_double(Handle);
        if (double.IsNaN(value)) CheckError();
        return value;
    }

    /// <summary>The value of a one-element integer tensor.</summary>
    public long ToInt64()
    {
        long value = g2t_tensor_item_int64(Handle);
        if (value == long.MinValue) CheckError();
        return value;
    }

    public Tensor To(ScalarType dtype) => new(g2t_tensor_to_dtype(Handle, (int)dtype));
    public Tensor To(Device device) => new(g2t_tensor_to_device(Handle, device.CudaIndex));
    public Tensor Contiguous() => new(g2t_tensor_contiguous(Handle));
    public Tensor Clone() => new(g2t_tensor_clone(Handle));
    /// <summary>The same data, cut off from autograd.</summary>
    public Tensor Detach() => new(g2t_tensor_detach(Handle));
    /// <summary>A second handle to the same tensor (same data and autograd identity), with its own lifetime.</summary>
    public Tensor Alias() => new(g2t_tensor_alias(Handle));

    private void RequireType<T>() where T : unmanaged
    {
        if (ScalarTypes.Of<T>() != DType)
            throw new ArgumentException($"the tensor holds {DType}, not {typeof(T).Name}");
    }

    /// <summary>Runs <paramref name="call"/> over the raw handles of <paramref name="tensors"/>.</summary>
    internal static TResult WithHandles<TResult>(IReadOnlyList<Tensor> tensors, Func<IntPtr[], TResult> call)
    {
        var handles = new IntPtr[tensors.Count];
        for (int i = 0; i < handles.Length; i++) handles[i] = tensors[i].Handle;
        return call(handles);
    }
}
