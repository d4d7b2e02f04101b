using Gpt2Onnx.Core.Native;

namespace Gpt2Onnx.Runtime.Native;

/// <summary>
/// Memory on 2 MB pages (Linux transparent huge pages, asked for with madvise). A buffer streamed again and
/// again, like the weights a decoding step reads once per token, then costs one TLB entry per 2 MB instead of
/// one per 4 KB, and the hardware prefetcher is not stopped at every 4 KB boundary. Where the system has no
/// transparent huge pages the memory is ordinary and everything works the same.
/// </summary>
internal static unsafe class HugePages
{
    public const nuint PageSize = 2 << 20;
    private const int ProtReadWrite = 0x1 | 0x2, MapPrivateAnonymous = 0x02 | 0x20, AdviseHugePage = 14;

    private static readonly delegate* unmanaged<void*, nuint, int, int, int, nint, void*> Mmap;
    private static readonly delegate* unmanaged<void*, nuint, int> Munmap;
    private static readonly delegate* unmanaged<void*, nuint, int, int> Madvise;

    static HugePages()
    {
        nint mmap = CLibrary.Export("mmap"), munmap = CLibrary.Export("munmap"), madvise = CLibrary.Export("madvise");
        if (mmap != 0 && munmap != 0 && madvise != 0)
        {
            Mmap = (delegate* unmanaged<void*, nuint, int, int, int, nint, void*>)mmap;
            Munmap = (delegate* unmanaged<void*, nuint, int>)munmap;
            Madvise = (delegate* unmanaged<void*, nuint, int, int>)madvise;
        }
    }

    /// <summary>Whether <see cref="Allocate"/> can be used here (Linux).</summary>
    public static bool Available => Mmap != null;

    /// <summary>
    /// <paramref name="size"/> bytes, zeroed, starting on a 2 MB boundary; null when the system refuses.
    /// Whole 2 MB pages of it are huge; the last partial page stays on small pages, so nothing is wasted.
    /// Free it with <see cref="Free"/> and the same size.
    /// </summary>
    public static void* Allocate(nuint size)
    {
        if (!Available || size == 0) return null;
        nuint length = RoundUp(size);
        // Over-allocate by one huge page, then give back what lies outside the aligned span.
        var raw = (byte*)Mmap(null, length + PageSize, ProtReadWrite, MapPrivateAnonymous, -1, 0);
        if (raw == (byte*)-1) return null;
        var start = (byte*)RoundUp((nuint)raw);
        if (start > raw) Munmap(raw, (nuint)(start - raw));
        nuint after = (nuint)(raw + length + PageSize - (start + length));
        if (after > 0) Munmap(start + length, after);
        nuint whole = size & ~(PageSize - 1);
        if (whole > 0) Madvise(start, whole, AdviseHugePage); // a refusal leaves small pages: still correct
        return start;
    }

    public static void Free(void* memory, nuint size)
    {
        if (memory != null) Munmap(memory, RoundUp(size));
    }

    private static nuint RoundUp(nuint size) => (size + PageSize - 1) & ~(PageSize - 1);
}
