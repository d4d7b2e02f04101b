using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// An ONNX Runtime tensor (OrtValue). Its data lives either in memory ONNX Runtime allocated, or in a
/// native buffer this object owns; <see cref="Span{T}"/>s from <see cref="GetData{T}"/> stay valid until the
/// tensor is disposed.
/// </summary>
public sealed unsafe class OrtTensor : IDisposable
{
    private readonly OrtValueHandle _value;
    private void* _ownedBuffer;
    private readonly void* _buffer;        // the memory under a tensor made over a buffer, else null
    private readonly nuint _capacityBytes;
    private readonly TensorElementType _type;

    private OrtTensor(IntPtr value, void* ownedBuffer, void* buffer = null, nuint capacityBytes = 0, TensorElementType type = TensorElementType.Undefined)
    {
        _value = OrtValueHandle.Wrap(value);
        _ownedBuffer = ownedBuffer;
        _buffer = buffer;
        _capacityBytes = capacityBytes;
        _type = type;
    }

    internal IntPtr Handle => _value.DangerousGetHandle();

    /// <summary>Takes ownership of an OrtValue that ONNX Runtime returned.</summary>
    internal static OrtTensor Own(IntPtr value) => new(value, null);

    /// <summary>A new CPU tensor in ONNX Runtime's memory; its contents start undefined.</summary>
    public static OrtTensor Allocate(TensorElementType type, ReadOnlySpan<long> shape)
    {
        IntPtr value;
        fixed (long* dims = shape)
            OrtApi.Check(OrtApi.Api.CreateTensorAsOrtValue(OrtApi.DefaultAllocator, dims, (nuint)shape.Length, (int)type, &value));
        return Own(value);
    }

    /// <summary>A new CPU tensor holding a copy of <paramref name="data"/>.</summary>
    public static OrtTensor From<T>(ReadOnlySpan<T> data, params ReadOnlySpan<long> shape) where T : unmanaged
    {
        long count = 1;
        foreach (var d in shape) count *= d;
        if (count != data.Length) throw new ArgumentException($"{data.Length} values for a shape of {count} elements");
        var tensor = Allocate(TensorElementTypes.Of<T>(), shape);
        data.CopyTo(tensor.GetData<T>());
        return tensor;
    }

    /// <summary>
    /// A tensor over a native buffer of <paramref name="capacityBytes"/> that this object allocates and frees,
    /// viewed with <paramref name="shape"/> (which may use less than the capacity).
    /// </summary>
    public static OrtTensor CreateOwned(TensorElementType type, ReadOnlySpan<long> shape, nuint capacityBytes)
    {
        void* buffer = NativeMemory.AlignedAlloc(Math.Max(capacityBytes, 64), 64);
        try
        {
            return new OrtTensor(CreateOver(buffer, capacityBytes, type, shape), buffer, buffer, capacityBytes, type);
        }
        catch
        {
            NativeMemory.AlignedFree(buffer);
            throw;
        }
    }

    /// <summary>
    /// A tensor over memory someone else owns (for example another tensor's buffer, viewed with a new
    /// shape). That memory must outlive this tensor.
    /// </summary>
    public static OrtTensor View(void* data, nuint bytes, TensorElementType type, ReadOnlySpan<long> shape) =>
        new(CreateOver(data, bytes, type, shape), null, data, bytes, type);

    /// <summary>
    /// Views this tensor's buffer with a new shape, in place: the elements are read row-major from the
    /// buffer's start. Only for tensors made with <see cref="CreateOwned"/> or <see cref="View"/>; allocates no managed memory.
    /// </summary>
    public void Reshape(ReadOnlySpan<long> shape)
    {
        if (_buffer == null) throw new InvalidOperationException("only a tensor over its own buffer can be re-viewed");
        long bytes = _type.SizeOf();
        foreach (var d in shape) bytes *= d;
        if ((nuint)bytes > _capacityBytes) throw new ArgumentException($"a shape of {bytes} bytes does not fit the buffer of {_capacityBytes}");
        _value.Replace(CreateOver(_buffer, (nuint)bytes, _type, shape));
    }

    private static IntPtr CreateOver(void* data, nuint bytes, TensorElementType type, ReadOnlySpan<long> shape)
    {
        IntPtr value;
        fixed (long* dims = shape)
            OrtApi.Check(OrtApi.Api.CreateTensorWithDataAsOrtValue(OrtMemory.Cpu, data, bytes, dims, (nuint)shape.Length, (int)type, &value));
        return value;
    }

    /// <summary>The buffer under a tensor made over one (<see cref="CreateOwned"/>, <see cref="View"/>), else null.</summary>
    internal void* Buffer => _buffer;

    /// <summary>The address of the first element.</summary>
    public void* DataPointer
    {
        get
        {
            void* data;
            OrtApi.Check(OrtApi.Api.GetTensorMutableData(Handle, &data));
            return data;
        }
    }

    /// <summary>The elements in place; valid until this tensor is disposed.</summary>
    public Span<T> GetData<T>() where T : unmanaged
    {
        var (type, count) = TypeAndCount();
        if (TensorElementTypes.Of<T>() != type) throw new ArgumentException($"the tensor holds {type}, not {typeof(T).Name}");
        return new Span<T>(DataPointer, checked((int)count));
    }

    public TensorElementType ElementType => TypeAndCount().Type;

    public long[] Shape
    {
        get
        {
            IntPtr info;
            OrtApi.Check(OrtApi.Api.GetTensorTypeAndShape(Handle, &info));
            try
            {
                return OrtTypeInfo.Dimensions(info);
            }
            finally
            {
                OrtApi.Api.ReleaseTensorTypeAndShapeInfo(info);
            }
        }
    }

    private (TensorElementType Type, long Count) TypeAndCount()
    {
        IntPtr info;
        OrtApi.Check(OrtApi.Api.GetTensorTypeAndShape(Handle, &info));
        try
        {
            int type;
            nuint count;
            OrtApi.Check(OrtApi.Api.GetTensorElementType(info, &type));
            OrtApi.Check(OrtApi.Api.GetTensorShapeElementCount(info, &count));
            return ((TensorElementType)type, (long)count);
        }
        finally
        {
            OrtApi.Api.ReleaseTensorTypeAndShapeInfo(info);
        }
    }

    public void Dispose()
    {
        _value.Dispose();
        if (_ownedBuffer != null)
        {
            NativeMemory.AlignedFree(_ownedBuffer);
            _ownedBuffer = null;
        }
    }
}

/// <summary>The CPU memory description tensors over our own buffers are created with.</summary>
internal static unsafe class OrtMemory
{
    private static readonly Lazy<OrtMemoryInfoHandle> CpuInfo = new(() =>
    {
        IntPtr info;
        OrtApi.Check(OrtApi.Api.CreateCpuMemoryInfo(0 /* OrtDeviceAllocator */, 0 /* OrtMemTypeDefault */, &info));
        return OrtMemoryInfoHandle.Wrap(info);
    });

    public static IntPtr Cpu => CpuInfo.Value.DangerousGetHandle();
}
