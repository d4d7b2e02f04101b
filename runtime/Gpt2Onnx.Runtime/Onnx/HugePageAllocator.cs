using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// The CPU allocator our sessions use instead of ONNX Runtime's own: buffers of 2 MB or more that a session
/// allocates while it loads (the weight matrices MLAS packs for its matrix products, ~494 MB for GPT-2 124M,
/// all read once per generated token) go on 2 MB pages (<see cref="HugePages"/>); everything else, including
/// every allocation made while a session runs, is ordinary 64-byte-aligned memory. Registered once with the
/// environment; a session opts in with the config entry <c>session.use_env_allocators</c>.
/// ONNX Runtime does not check what a custom allocator returns: a null would crash the process in the kernel
/// that asked (a damaged or hostile graph asking for terabytes did). So a request this process cannot have, one
/// larger than the machine's memory or one the system refuses, ends the process at once with one error line
/// (<see cref="Refuse"/>); sessions with <see cref="SessionSettings.HugePages"/> off keep ONNX Runtime's own
/// allocator, which reports it as an exception instead.
/// </summary>
internal static unsafe class HugePageAllocator
{
    /// <summary>ONNX Runtime's OrtAllocator (version 1: Alloc, Free, Info), in native memory that never moves.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct OrtAllocatorTable
    {
        public uint Version;
        public delegate* unmanaged<OrtAllocatorTable*, nuint, void*> Alloc;
        public delegate* unmanaged<OrtAllocatorTable*, void*, void> Free;
        public delegate* unmanaged<OrtAllocatorTable*, IntPtr> Info;
    }

    private static readonly object Gate = new();
    private static readonly Dictionary<nint, nuint> HugeBuffers = new(); // start → size, under Gate
    private static IntPtr _memoryInfo;
    private static bool _registered;
    [ThreadStatic] private static bool _loading;
    [ThreadStatic] private static int _hugeBuffersLoaded;

    /// <summary>How many buffers sessions loading on this thread have put on huge pages.</summary>
    public static int HugeBuffersLoadedOnThisThread => _hugeBuffersLoaded;

    /// <summary>Makes the session created with <paramref name="sessionOptions"/> allocate through this allocator (where huge pages are available).</summary>
    public static void UseFor(IntPtr sessionOptions)
    {
        if (!HugePages.Available) return;
        lock (Gate)
        {
            if (!_registered)
            {
                IntPtr info;
                OrtApi.Check(OrtApi.Api.CreateCpuMemoryInfo(0 /* device allocator */, 0 /* default memory */, &info));
                var table = (OrtAllocatorTable*)NativeMemory.AllocZeroed((nuint)sizeof(OrtAllocatorTable));
                table->Version = 1;
                table->Alloc = &Alloc;
                table->Free = &Free;
                table->Info = &Info;
                _memoryInfo = info;
                OrtApi.Check(OrtApi.Api.RegisterAllocator(OrtEnvironment.Handle, (IntPtr)table)); // held by the environment for the process's life
                _registered = true;
            }
        }
        fixed (byte* key = OrtApi.Utf8("session.use_env_allocators"), value = OrtApi.Utf8("1"))
            OrtApi.Check(OrtApi.Api.AddSessionConfigEntry(sessionOptions, key, value));
    }

    /// <summary>While the returned scope lives, this thread's large allocations (a session loading) go on huge pages.</summary>
    public static LoadingScope Loading() => new();

    public readonly ref struct LoadingScope
    {
        public LoadingScope() => _loading = true;
        public void Dispose() => _loading = false;
    }

    [UnmanagedCallersOnly]
    private static void* Alloc(OrtAllocatorTable* self, nuint size)
    {
        if (size > MachineMemory) Refuse(size);
        if (_loading && size >= HugePages.PageSize)
        {
            NativeHeap.Trim(); // the heap's free holes go back first, so loading peaks no higher than on the heap alone
            void* huge = HugePages.Allocate(size);
            if (huge != null)
            {
                lock (Gate) HugeBuffers[(nint)huge] = size;
                _hugeBuffersLoaded++;
                return huge;
            }
        }
        try
        {
            return NativeMemory.AlignedAlloc(size == 0 ? 1 : size, 64);
        }
        catch (OutOfMemoryException)
        {
            Refuse(size);
            return null;
        }
    }

    /// <summary>The memory this process may use: the machine's, or its container's limit.</summary>
    private static readonly ulong MachineMemory = (ulong)GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Ends the process with one error line and exit code 1: the only safe answer to an allocation that cannot be made (see the class summary).</summary>
    private static void Refuse(nuint size)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"error: ONNX Runtime asked for {size:N0} bytes at once, {(size > MachineMemory ? "more than this machine's" : "and the system refused; it has")} {MachineMemory:N0} bytes of memory: " +
                                "the model's graph is damaged or hostile, or the batch is too large (with --no-huge-pages, or SessionSettings.HugePages = false, ONNX Runtime reports it as an error instead)");
        Console.Error.Flush();
        NativeExit.Now(1);
    }

    [UnmanagedCallersOnly]
    private static void Free(OrtAllocatorTable* self, void* memory)
    {
        if (((nuint)memory & (HugePages.PageSize - 1)) == 0 && memory != null) // only huge buffers start on a 2 MB boundary for sure
        {
            nuint size;
            bool huge;
            lock (Gate) huge = HugeBuffers.Remove((nint)memory, out size);
            if (huge)
            {
                HugePages.Free(memory, size);
                return;
            }
        }
        NativeMemory.AlignedFree(memory);
    }

    [UnmanagedCallersOnly]
    private static IntPtr Info(OrtAllocatorTable* self) => _memoryInfo;
}
