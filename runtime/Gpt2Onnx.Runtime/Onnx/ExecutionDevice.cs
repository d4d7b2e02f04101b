using Gpt2Onnx.Core;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Where a session runs and where the buffers a decoder binds to it live: host memory for the CPU; for CUDA,
/// the key/value cache in device memory (allocated once, through the session's own CUDA allocator), while ids,
/// positions and the mask stay on the host, and ONNX Runtime copies them when they are bound.
/// </summary>
public sealed class ExecutionDevice : IDisposable
{
    private OrtAllocator? _allocator;

    /// <summary>"cpu" or "cuda:N".</summary>
    public string Name { get; }
    public bool IsCuda { get; }
    internal OrtMemoryInfo CacheMemory { get; }

    private ExecutionDevice(string name, bool isCuda, OrtMemoryInfo cacheMemory)
    {
        Name = name;
        IsCuda = isCuda;
        CacheMemory = cacheMemory;
    }

    internal static ExecutionDevice Cpu() => new("cpu", false, OrtMemoryInfo.DefaultInstance);

    internal static ExecutionDevice Cuda(int deviceId) =>
        new($"cuda:{deviceId}", true, new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator,
                                                         deviceId, OrtMemType.Default));

    /// <summary>Binds the device to the session whose allocator gives its memory.</summary>
    internal void Attach(InferenceSession session)
    {
        if (IsCuda) _allocator = new OrtAllocator(session, CacheMemory);
    }

    /// <summary>Device memory for a cache buffer (CUDA only; the caller owns the allocation).</summary>
    internal OrtMemoryAllocation AllocateOnDevice(long bytes)
    {
        if (_allocator == null) throw new InvalidOperationException("host memory is allocated by NativeTensor itself");
        if (bytes > uint.MaxValue)
            throw new Gpt2OnnxException($"one cache buffer of {bytes:N0} bytes is more than ONNX Runtime " +
                                        "allocates at once: " +
                                        "lower the batch (--max-batch) or the length");
        return _allocator.Allocate((uint)Math.Max(bytes, 1));
    }

    public override string ToString() => Name;

    public void Dispose()
    {
        _allocator?.Dispose();
        if (IsCuda) CacheMemory.Dispose();
    }
}
