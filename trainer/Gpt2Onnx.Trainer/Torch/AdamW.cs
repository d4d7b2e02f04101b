using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// AdamW (decoupled weight decay, as torch.optim.AdamW) over a fixed list of parameters. One native call
/// updates every parameter; the moment buffers are tensors the caller can save and restore for exact resume.
/// </summary>
public sealed unsafe class AdamW : IDisposable
{
    private readonly Tensor[] _parameters;
    private readonly IntPtr[] _parameterHandles;
    private readonly IntPtr[] _expAvgHandles;
    private readonly IntPtr[] _expAvgSqHandles;
    private readonly double[] _weightDecay;

    /// <param name="weightDecay">the decay of each parameter (0 for those not decayed)</param>
    public AdamW(IReadOnlyList<Tensor> parameters, IReadOnlyList<double> weightDecay,
                 double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        if (parameters.Count != weightDecay.Count) throw new ArgumentException("one weight decay per parameter");
        _parameters = parameters.ToArray();
        _weightDecay = weightDecay.ToArray();
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        ExpAvg = new Tensor[_parameters.Length];
        ExpAvgSq = new Tensor[_parameters.Length];
        using (Autograd.NoGrad())
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                ExpAvg[i] = ZerosLike(_parameters[i]);
                ExpAvgSq[i] = ZerosLike(_parameters[i]);
            }
        }
        _parameterHandles = _parameters.Select(p => p.Handle).ToArray();
        _expAvgHandles = ExpAvg.Select(p => p.Handle).ToArray();
        _expAvgSqHandles = ExpAvgSq.Select(p => p.Handle).ToArray();
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }

    /// <summary>Updates taken so far (the next step is Step + 1).</summary>
    public long Step { get; set; }

    /// <summary>First moments, one per parameter, in parameter order.</summary>
    public Tensor[] ExpAvg { get; }

    /// <summary>Second moments, one per parameter, in parameter order.</summary>
    public Tensor[] ExpAvgSq { get; }

    /// <summary>Applies one update with learning rate <paramref name="lr"/> using the current gradients.</summary>
    public void Update(double lr)
    {
        Step++;
        fixed (IntPtr* p = _parameterHandles)
        fixed (IntPtr* m = _expAvgHandles)
        fixed (IntPtr* v = _expAvgSqHandles)
        fixed (double* decay = _weightDecay)
            Check(g2t_adamw_step(p, m, v, decay, _parameterHandles.Length, Step, lr, Beta1, Beta2, Eps));
    }

    public void Dispose()
    {
        foreach (var t in ExpAvg) t.Dispose();
        foreach (var t in ExpAvgSq) t.Dispose();
    }

    private static Tensor ZerosLike(Tensor t)
    {
        var zeros = Tensor.Zeros(t.Shape, t.DType);
        if (!t.Device.IsCpu)
        {
            var moved = zeros.To(t.Device);
            zeros.Dispose();
            return moved;
        }
        return zeros;
    }
}
