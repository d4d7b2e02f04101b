using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Gradients: backward passes, access, zeroing, clipping and no-grad scopes (autograd.cpp).</summary>
public static unsafe class Autograd
{
    /// <summary>Computes the gradients of a scalar <paramref name="loss"/> with respect to every leaf that requires them.</summary>
    public static void Backward(this Tensor loss) => Check(g2t_backward(loss.Handle));

    /// <summary>The gradient of <paramref name="tensor"/>, or null before any backward pass reached it.</summary>
    public static Tensor? Grad(this Tensor tensor)
    {
        IntPtr grad = g2t_grad(tensor.Handle);
        if (grad == IntPtr.Zero)
        {
            CheckError();
            return null;
        }
        return new Tensor(grad);
    }

    /// <summary>Drops the gradients of <paramref name="parameters"/> (as zero_grad(set_to_none=True)).</summary>
    public static void ZeroGrad(IReadOnlyList<Tensor> parameters) =>
        Tensor.WithHandles(parameters, handles => { fixed (IntPtr* p = handles) return Check(g2t_zero_grads(p, handles.Length)); });

    /// <summary>Scales the gradients so that their joint L2 norm is at most <paramref name="maxNorm"/>; returns the norm before.</summary>
    public static double ClipGradNorm(IReadOnlyList<Tensor> parameters, double maxNorm) =>
        Tensor.WithHandles(parameters, handles =>
        {
            double norm;
            fixed (IntPtr* p = handles) norm = g2t_clip_grad_norm(p, handles.Length, maxNorm);
            if (norm < 0) CheckError();
            return norm;
        });

    /// <summary>Turns gradient recording off on this thread until disposed (torch.no_grad()).</summary>
    public static NoGradScope NoGrad() => new();

    public readonly struct NoGradScope : IDisposable
    {
        private readonly bool _previous;

        public NoGradScope() => _previous = Check(g2t_set_grad_enabled(0)) == 1;

        public void Dispose() => g2t_set_grad_enabled(_previous ? 1 : 0);
    }
}
