using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>A graph input or output name, encoded to NUL-terminated UTF-8 once, in memory that never moves.</summary>
public sealed unsafe class Utf8Name
{
    private readonly byte[] _bytes;

    public Utf8Name(string name)
    {
        Name = name;
        int length = System.Text.Encoding.UTF8.GetByteCount(name);
        _bytes = GC.AllocateArray<byte>(length + 1, pinned: true);
        System.Text.Encoding.UTF8.GetBytes(name, _bytes);
    }

    public string Name { get; }
    internal byte* Pointer => (byte*)Unsafe.AsPointer(ref _bytes[0]);
    public override string ToString() => Name;
}

/// <summary>
/// Binds <see cref="NativeTensor"/>s to an <see cref="OrtIoBinding"/> by names encoded once, allocating no managed
/// memory. The managed API's BindInput(string, OrtValue) encodes the name and needs a managed OrtValue on every
/// call, and a portable graph's step rebinds four values a layer (the bytes it costs: README, "On ONNX Runtime's
/// packages"). So these three entries of ONNX Runtime's C API are called directly, through
/// the function table the library exports (OrtGetApiBase); everything else goes through the managed API.
/// </summary>
public static unsafe class TensorBinding
{
    /// <summary>An API version every ONNX Runtime since 1.14 grants; the entries below are older than it.</summary>
    private const uint ApiVersion = 14;
    // Entries of the OrtApi table, numbered as onnxruntime_c_api.h orders them (the table only grows at its end).
    private const int GetErrorMessageEntry = 2, CreateTensorWithDataAsOrtValueEntry = 49, ReleaseStatusEntry = 93,
                      ReleaseValueEntry = 96, BindInputEntry = 136, BindOutputEntry = 137;

    [StructLayout(LayoutKind.Sequential)]
    private struct OrtApiBase
    {
        public delegate* unmanaged<uint, void**> GetApi;
        public delegate* unmanaged<byte*> GetVersionString;
    }

    [DllImport("onnxruntime", CallingConvention = CallingConvention.Cdecl)]
    private static extern OrtApiBase* OrtGetApiBase();

    private static readonly void** Api = OrtGetApiBase()->GetApi(ApiVersion);

    /// <summary>The run reads <paramref name="name"/> from <paramref name="tensor"/>, in its current shape.</summary>
    public static void BindInput(this OrtIoBinding binding, Utf8Name name, NativeTensor tensor) =>
        Bind(binding, name, tensor, BindInputEntry);

    /// <summary>The run writes <paramref name="name"/> into <paramref name="tensor"/>, shaped as the output.</summary>
    public static void BindOutput(this OrtIoBinding binding, Utf8Name name, NativeTensor tensor) =>
        Bind(binding, name, tensor, BindOutputEntry);

    private static void Bind(OrtIoBinding binding, Utf8Name name, NativeTensor tensor, int entry)
    {
        var create = (delegate* unmanaged<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)
            Api[CreateTensorWithDataAsOrtValueEntry];
        var bind = (delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr>)Api[entry];
        var release = (delegate* unmanaged<IntPtr, void>)Api[ReleaseValueEntry];
        var shape = tensor.Shape;
        long bytes = tensor.ElementCount * tensor.ElementType.SizeOf();
        IntPtr value;
        fixed (long* dims = shape)
            Check(create(tensor.Memory.DangerousGetHandle(), tensor.Data, (nuint)bytes, dims, (nuint)shape.Length,
                         (int)tensor.ElementType, &value), name);
        try
        {
            // The binding keeps its own reference to the value (over the same memory), so ours is released at once.
            Check(bind(binding.DangerousGetHandle(), name.Pointer, value), name);
        }
        finally
        {
            release(value);
        }
        GC.KeepAlive(binding);
        GC.KeepAlive(tensor);
    }

    private static void Check(IntPtr status, Utf8Name name)
    {
        if (status == IntPtr.Zero) return;
        var message = (delegate* unmanaged<IntPtr, byte*>)Api[GetErrorMessageEntry];
        var release = (delegate* unmanaged<IntPtr, void>)Api[ReleaseStatusEntry];
        try
        {
            string text = Marshal.PtrToStringUTF8((IntPtr)message(status)) ?? "(no message)";
            throw new Gpt2OnnxException($"ONNX Runtime could not bind '{name}': {ModelSession.OneLine(text)}");
        }
        finally
        {
            release(status);
        }
    }
}
