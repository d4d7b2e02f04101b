using System.Runtime.InteropServices;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Owns one at::Tensor* created by the shim; releasing it drops that reference.</summary>
internal sealed class TensorHandle : SafeHandle
{
    private static long _live;
    private static long _releasedByFinalizer;

    public TensorHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        Interlocked.Increment(ref _live);
    }

    /// <summary>Handles created and not yet released: a training loop that leaks shows here first.</summary>
    public static long Live => Interlocked.Read(ref _live);

    /// <summary>Handles the GC had to release because nobody disposed them (should stay 0).</summary>
    public static long ReleasedByFinalizer => Interlocked.Read(ref _releasedByFinalizer);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        TorchNative.g2t_tensor_free(handle);
        Interlocked.Decrement(ref _live);
        return true;
    }

    ~TensorHandle()
    {
        Interlocked.Increment(ref _releasedByFinalizer);
    }
}
