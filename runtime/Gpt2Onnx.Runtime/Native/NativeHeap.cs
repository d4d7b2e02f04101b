using Gpt2Onnx.Core.Native;

namespace Gpt2Onnx.Runtime.Native;

/// <summary>The C library's heap, which ONNX Runtime allocates from.</summary>
internal static unsafe class NativeHeap
{
    private static readonly delegate* unmanaged<nuint, int> MallocTrim =
        (delegate* unmanaged<nuint, int>)CLibrary.Export("malloc_trim");

    /// <summary>
    /// Gives the heap's free memory back to the system (glibc's malloc_trim; nothing where the C library has
    /// none). Free holes in the middle of the heap otherwise stay resident: a session that has loaded leaves
    /// them where it kept the weights it read from the file before packing them (README, "The tools").
    /// </summary>
    public static void Trim()
    {
        if (MallocTrim != null) MallocTrim(0);
    }
}
