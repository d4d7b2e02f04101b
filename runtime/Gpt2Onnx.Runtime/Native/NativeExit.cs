using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Native;

/// <summary>
/// Ends the process at once, from any thread, as the C library's _exit does: no finalizers, no exit handlers,
/// so a thread inside a native library that cannot go on (ONNX Runtime waiting on memory it will never get)
/// cannot deadlock the exit. The caller writes its error line first.
/// </summary>
internal static unsafe class NativeExit
{
    private static readonly delegate* unmanaged<int, void> Exit =
        NativeLibrary.TryGetExport(NativeLibrary.GetMainProgramHandle(), "_exit", out var exit) ? (delegate* unmanaged<int, void>)exit : null;

    public static void Now(int code)
    {
        if (Exit != null) Exit(code);
        Environment.Exit(code); // no C library export to call (not Linux): the runtime's own exit
    }
}
