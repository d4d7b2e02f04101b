using System.Runtime.InteropServices;
using Gpt2Onnx.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// A tensor over memory allocated once (on the host, or for a CUDA cache in device memory), which can be
/// re-viewed with another shape that fits, without allocating: the buffers a decoder binds to its graph with
/// <see cref="TensorBinding"/>. Spans from <see cref="Span{T}"/> stay valid until the tensor is disposed.
/// </summary>
public sealed unsafe class NativeTensor : IDisposable
{
    private readonly long[] _shape;
    private int _rank;
    private void* _ownedHost;
    private OrtMemoryAllocation? _ownedDevice;

    public TensorElementType ElementType { get; }
    /// <summary>The first element; on a device, a device address.</summary>
    public void* Data { get; }
    public long CapacityBytes { get; }
    /// <summary>Where the memory is; a tensor bound to a graph input elsewhere is copied there when bound.</summary>
    internal OrtMemoryInfo Memory { get; }
    public bool OnHost => Memory == OrtMemoryInfo.DefaultInstance;

    private NativeTensor(TensorElementType type, void* data, long capacityBytes, OrtMemoryInfo memory,
                         ReadOnlySpan<long> shape)
    {
        ElementType = type;
        Data = data;
        CapacityBytes = capacityBytes;
        Memory = memory;
        _shape = new long[Math.Max(shape.Length, 4)];
        Reshape(shape);
    }

    /// <summary>
    /// Host memory of <paramref name="capacityBytes"/> (64-byte aligned, contents undefined), viewed as
    /// <paramref name="shape"/>.
    /// </summary>
    public static NativeTensor OnHostMemory(TensorElementType type, ReadOnlySpan<long> shape, long capacityBytes)
    {
        void* data = NativeMemory.AlignedAlloc((nuint)Math.Max(capacityBytes, 64), 64);
        return new NativeTensor(type, data, capacityBytes, OrtMemoryInfo.DefaultInstance, shape) { _ownedHost = data };
    }

    /// <summary>A cache buffer where <paramref name="device"/> keeps its cache, zeroed.</summary>
    public static NativeTensor ForCache(ExecutionDevice device, TensorElementType type, ReadOnlySpan<long> shape,
                                        long capacityBytes)
    {
        if (!device.IsCuda)
        {
            var host = OnHostMemory(type, shape, capacityBytes);
            NativeMemory.Clear(host.Data, (nuint)capacityBytes);
            return host;
        }
        var allocation = device.AllocateOnDevice(capacityBytes);
        void* data = (void*)allocation.DangerousGetHandle();
        var tensor = new NativeTensor(type, data, capacityBytes, device.CacheMemory, shape)
        {
            _ownedDevice = allocation,
        };
        DeviceCopy.Zero(tensor.Data, device.CacheMemory, capacityBytes);
        return tensor;
    }

    /// <summary>A host tensor holding a copy of <paramref name="data"/>.</summary>
    public static NativeTensor From<T>(ReadOnlySpan<T> data, params ReadOnlySpan<long> shape) where T : unmanaged
    {
        var tensor = OnHostMemory(TensorElementTypes.Of<T>(), shape, (long)data.Length * sizeof(T));
        if (tensor.ElementCount != data.Length)
        {
            tensor.Dispose();
            throw new ArgumentException($"{data.Length} values for a shape of {tensor.ElementCount} elements");
        }
        data.CopyTo(tensor.Span<T>());
        return tensor;
    }

    /// <summary>
    /// A view of <paramref name="bytes"/> of another tensor's memory from <paramref name="byteOffset"/> on (rows of a
    /// shared cache buffer, say), which must outlive it.
    /// </summary>
    public static NativeTensor View(NativeTensor of, long byteOffset, long bytes, ReadOnlySpan<long> shape)
    {
        if (byteOffset < 0 || byteOffset + bytes > of.CapacityBytes)
            throw new ArgumentOutOfRangeException(nameof(byteOffset));
        return new NativeTensor(of.ElementType, (byte*)of.Data + byteOffset, bytes, of.Memory, shape);
    }

    public ReadOnlySpan<long> Shape => _shape.AsSpan(0, _rank);

    public long ElementCount
    {
        get
        {
            long count = 1;
            foreach (var d in Shape) count *= d;
            return count;
        }
    }

    /// <summary>Views the memory with a new shape, read row-major from its start; allocates nothing.</summary>
    public void Reshape(ReadOnlySpan<long> shape)
    {
        if (shape.Length > _shape.Length)
            throw new ArgumentException($"at most {_shape.Length} dimensions for this tensor");
        long bytes = ElementType.SizeOf();
        foreach (var d in shape) bytes *= d;
        if (bytes > CapacityBytes)
            throw new ArgumentException($"a shape of {bytes} bytes does not fit the buffer of {CapacityBytes}");
        shape.CopyTo(_shape);
        _rank = shape.Length;
    }

    /// <summary>The elements of the current shape, in place (host memory only).</summary>
    public Span<T> Span<T>() where T : unmanaged
    {
        if (!OnHost) throw new InvalidOperationException("device memory has no span on the host");
        if (TensorElementTypes.Of<T>() != ElementType)
            throw new ArgumentException($"the tensor holds {ElementType}, not {typeof(T).Name}");
        return new Span<T>(Data, checked((int)ElementCount));
    }

    public void Dispose()
    {
        if (_ownedHost != null) NativeMemory.AlignedFree(_ownedHost);
        _ownedHost = null;
        _ownedDevice?.Dispose();
        _ownedDevice = null;
    }
}
