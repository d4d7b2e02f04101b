using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

// One sealed SafeHandle per kind of ONNX Runtime object, each released by its own Release function.

internal sealed unsafe class OrtEnvHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseEnv(handle); return true; }
    public static OrtEnvHandle Wrap(IntPtr p) { var h = new OrtEnvHandle(); h.SetHandle(p); return h; }
}

internal sealed unsafe class OrtSessionOptionsHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseSessionOptions(handle); return true; }
    public static OrtSessionOptionsHandle Wrap(IntPtr p) { var h = new OrtSessionOptionsHandle(); h.SetHandle(p); return h; }
}

internal sealed unsafe class OrtSessionHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseSession(handle); return true; }
    public static OrtSessionHandle Wrap(IntPtr p) { var h = new OrtSessionHandle(); h.SetHandle(p); return h; }
}

internal sealed unsafe class OrtValueHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseValue(handle); return true; }
    public static OrtValueHandle Wrap(IntPtr p) { var h = new OrtValueHandle(); h.SetHandle(p); return h; }

    /// <summary>Releases the current value and takes <paramref name="value"/> in its place (a re-shaped view of the same memory).</summary>
    public void Replace(IntPtr value)
    {
        if (!IsInvalid) OrtApi.Api.ReleaseValue(handle);
        SetHandle(value);
    }
}

internal sealed unsafe class OrtMemoryInfoHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseMemoryInfo(handle); return true; }
    public static OrtMemoryInfoHandle Wrap(IntPtr p) { var h = new OrtMemoryInfoHandle(); h.SetHandle(p); return h; }
}

internal sealed unsafe class OrtIoBindingHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseIoBinding(handle); return true; }
    public static OrtIoBindingHandle Wrap(IntPtr p) { var h = new OrtIoBindingHandle(); h.SetHandle(p); return h; }
}

internal sealed unsafe class OrtRunOptionsHandle() : SafeHandle(IntPtr.Zero, true)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() { OrtApi.Api.ReleaseRunOptions(handle); return true; }
    public static OrtRunOptionsHandle Wrap(IntPtr p) { var h = new OrtRunOptionsHandle(); h.SetHandle(p); return h; }
}

/// <summary>The default CPU allocator: ONNX Runtime owns it, so releasing this handle does nothing.</summary>
internal sealed class OrtAllocatorHandle() : SafeHandle(IntPtr.Zero, ownsHandle: false)
{
    public override bool IsInvalid => handle == IntPtr.Zero;
    protected override bool ReleaseHandle() => true;
    public static OrtAllocatorHandle Default { get; } = Create();
    private static OrtAllocatorHandle Create() { var h = new OrtAllocatorHandle(); h.SetHandle(OrtApi.DefaultAllocator); return h; }
}
