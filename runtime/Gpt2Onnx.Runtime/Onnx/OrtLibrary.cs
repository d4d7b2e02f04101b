using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// The ONNX Runtime shared library: located once, entered through its single export
/// <c>OrtGetApiBase</c>; every other function is reached through the <c>OrtApi</c> table.
/// </summary>
public static unsafe class OrtLibrary
{
    /// <summary>The ONNX Runtime release this project is built and tested against.</summary>
    public const string ExpectedVersion = "1.30.0";

    internal static readonly NativeLibraryLocator Locator = new(
        importName: "onnxruntime",
        fileName: "libonnxruntime.so.1",
        environmentVariable: "GPT2ONNX_ORT_LIB",
        depsRelativePath: ".deps/onnxruntime/libonnxruntime.so.1",
        whatToDo: "run scripts/setup.sh, or set GPT2ONNX_ORT_LIB to the full path of libonnxruntime.so.1 " + ExpectedVersion);

    static OrtLibrary() => Locator.Register(typeof(OrtLibrary).Assembly);

    [StructLayout(LayoutKind.Sequential)]
    internal struct OrtApiBase
    {
        public delegate* unmanaged<uint, void*> GetApi;  // returns const OrtApi*, or NULL when the version is unsupported
        public delegate* unmanaged<byte*> GetVersionString; // static storage, never freed
    }

    [DllImport("onnxruntime")]
    private static extern OrtApiBase* OrtGetApiBase();

    internal static OrtApiBase* ApiBase => OrtGetApiBase();

    /// <summary>Where the library was loaded from.</summary>
    public static string LoadedFrom => Locator.LoadedFrom;

    /// <summary>The version string of the loaded library, for example "1.30.0".</summary>
    public static string Version => Marshal.PtrToStringUTF8((IntPtr)ApiBase->GetVersionString()) ?? "";
}
