using System.Runtime.InteropServices;

namespace Gpt2Onnx.Core.Native;

/// <summary>
/// The C library's own functions, found among the process's symbols (glibc or musl alike, so no library file
/// name is assumed). The runtime and the trainer tune the heap ONNX Runtime and libtorch allocate from with them.
/// </summary>
public static class CLibrary
{
    /// <summary>
    /// The address of the function <paramref name="name"/>, or 0 where there is none: not Linux, or a C library
    /// without it (mallinfo2 and malloc_trim are glibc's).
    /// </summary>
    public static nint Export(string name) =>
        OperatingSystem.IsLinux() && NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), name, out var f)
            ? f : 0;
}
