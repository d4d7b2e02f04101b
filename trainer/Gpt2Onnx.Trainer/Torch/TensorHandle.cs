using System.Runtime.InteropServices;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Owns one at::Tensor* created by the shim; releasing it drops that reference.</summary>
internal sealed class TensorHandle : SafeHandle
{
    public TensorHandle(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        TorchNative.g2t_tensor_free(handle);
        return true;
    }
}
