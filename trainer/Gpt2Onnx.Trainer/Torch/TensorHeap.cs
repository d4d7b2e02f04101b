using System.Runtime.InteropServices;
using Gpt2Onnx.Core.Native;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// libtorch's CPU tensors come from the C library's malloc. glibc serves every block over 32 MB (a step's logits
/// are hundreds) with a fresh mmap and unmaps it on free, so each training step faults in and zeroes its largest
/// tensors page by page again: on this project's 2-core machine that was most of a step (README, "The trainer").
/// Here the main thread's heap, where the command-line trainer runs its steps, keeps freed memory for the next
/// step instead, as PyTorch's caching allocator does on a GPU: no block is mmapped, and the top of the heap is
/// handed back only beyond <see cref="KeptFreeBytes"/>. Other threads' heaps (glibc's arenas, 64 MB each) still
/// mmap their large blocks.
/// </summary>
public static unsafe class TensorHeap
{
    private const int MmapMax = -4;          // glibc's M_MMAP_MAX: how many blocks may be mmapped at once
    private const int TrimThreshold = -1;    // glibc's M_TRIM_THRESHOLD: free bytes at the top that trigger a trim

    /// <summary>The most free memory the heap keeps at its top before it gives some back (mallopt takes an int).
    /// </summary>
    public const int KeptFreeBytes = int.MaxValue;

    /// <summary>glibc's struct mallinfo2: ten size_t counters, hblkhd the bytes in mmapped blocks.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2
    {
        public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost;
    }

    /// <summary>Switches glibc's heap to keep freed tensors; nothing where the C library is not glibc.</summary>
    public static void KeepFreedMemory()
    {
        var mallopt = (delegate* unmanaged<int, int, int>)CLibrary.Export("mallopt");
        if (mallopt == null) return;
        mallopt(TrimThreshold, KeptFreeBytes);
        mallopt(MmapMax, 0);
    }

    /// <summary>
    /// Whether a 64 MB tensor made on this thread comes from the heap rather than its own mmap (false where the
    /// C library does not say).
    /// </summary>
    public static bool KeepsLargeTensors()
    {
        var mallinfo2 = (delegate* unmanaged<MallInfo2>)CLibrary.Export("mallinfo2");
        if (mallinfo2 == null) return false;
        const long bytes = 64L << 20;
        nuint mappedBefore = mallinfo2().HBlkHd;
        using var probe = empty(bytes / 4);
        return mallinfo2().HBlkHd < mappedBefore + (nuint)bytes;
    }
}
