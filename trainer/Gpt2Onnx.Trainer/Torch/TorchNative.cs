using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// The C functions of the shim in trainer/native (see src/shim.h for the conventions), and the one
/// error path every call goes through.
/// </summary>
internal static unsafe class TorchNative
{
    private const string Shim = "gpt2onnx_torch";

    internal static readonly NativeLibraryLocator Locator = new(
        importName: Shim,
        fileName: "libgpt2onnx_torch.so",
        environmentVariable: "GPT2ONNX_TORCH_SHIM",
        depsRelativePath: ".deps/native/libgpt2onnx_torch.so",
        whatToDo: "run scripts/setup.sh to build the libtorch shim (TORCH_DIR=/path/to/libtorch for a libtorch other than Debian's)");

    static TorchNative() => Locator.Register(typeof(TorchNative).Assembly);

    /// <summary>Throws the pending shim error when <paramref name="failed"/>.</summary>
    internal static void Check(bool failed)
    {
        if (failed) throw LastError();
    }

    internal static IntPtr Check(IntPtr handle)
    {
        if (handle == IntPtr.Zero) throw LastError();
        return handle;
    }

    internal static int Check(int result)
    {
        if (result < 0) throw LastError();
        return result;
    }

    private static TorchException LastError()
    {
        // The message lives in the shim's thread-local storage: read it, never free it.
        var message = Marshal.PtrToStringUTF8(g2t_last_error());
        return new TorchException(message ?? "libtorch call failed without a message");
    }

    [DllImport(Shim)] internal static extern IntPtr g2t_last_error();
    [DllImport(Shim)] internal static extern int g2t_version(byte* buffer, int capacity);

    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_from_data(void* data, long nbytes, long* shape, int ndim, int dtype);
    [DllImport(Shim)] internal static extern void g2t_tensor_free(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_ndim(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_shape(IntPtr tensor, long* shape, int capacity);
    [DllImport(Shim)] internal static extern int g2t_tensor_dtype(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_copy_to(IntPtr tensor, void* destination, long nbytes);
}
