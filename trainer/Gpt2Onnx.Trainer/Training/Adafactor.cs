using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Adafactor (Shazeer and Stern, 2018, algorithms 4 and 5) without momentum. A matrix keeps only the running
/// means of its squared gradients over each row and each column (rows + columns numbers, not rows × columns)
/// and rebuilds the second moment as their outer product over their mean; a vector keeps the full second moment.
/// β2 decays as 1 − t^−0.8, ε1 = 1e-30 is added to the squared gradient, each update is scaled down to an RMS
/// of at most 1, and the step size is relative (max(ε2 = 1e-3, RMS(weight)) · min(1e-2, 1/√t)) unless a
/// learning rate is given. Weight decay, as in AdamW, is decoupled and applied to matrices only.
/// </summary>
public sealed class Adafactor : IGpt2Optimizer
{
    public const double Epsilon1 = 1e-30;
    public const double Epsilon2 = 1e-3;
    public const double ClipThreshold = 1.0;
    public const double DecayExponent = -0.8;

    private readonly List<Slot> _slots;
    private readonly double _weightDecay;
    private readonly bool _relativeStep;

    /// <summary>A parameter with its second-moment state: Row (n) and Column (m) for an n × m matrix, else Full.
    /// </summary>
    private sealed record Slot(string Name, Parameter Parameter, Tensor? Row, Tensor? Column, Tensor? Full)
    {
        public bool Factored => Full is null;
    }

    /// <param name="parameters">the trainable parameters with their GPT-2 names</param>
    /// <param name="relativeStep">true: the paper's relative step size, and <see cref="Step"/>'s lr is unused</param>
    public Adafactor(IReadOnlyList<(string Name, Parameter Parameter)> parameters, double weightDecay,
                     bool relativeStep)
    {
        _weightDecay = weightDecay;
        _relativeStep = relativeStep;
        _slots = parameters.Select(p => NewSlot(p.Name, p.Parameter)).ToList();
    }

    /// <summary>A slot with zeroed state (kept out of any dispose scope: it lives as long as the optimizer).
    /// </summary>
    private static Slot NewSlot(string name, Parameter parameter)
    {
        Tensor Zeros(long[] shape) =>
            zeros(shape, ScalarType.Float32, parameter.device).DetachFromDisposeScope();
        long[] shape = parameter.shape;
        if (shape.Length < 2) return new Slot(name, parameter, null, null, Zeros(shape));
        var row = Zeros(shape[..^1]);                                                          // (…, n)
        var column = Zeros([.. shape[..^2], shape[^1]]);                                       // (…, m)
        return new Slot(name, parameter, row, column, null);
    }

    public IEnumerable<Parameter> Trainable => _slots.Select(s => s.Parameter);

    /// <summary>adafactor_row.{name} and adafactor_col.{name} for a matrix, adafactor_v.{name} for a vector.</summary>
    public IEnumerable<(string Name, Tensor Value)> State => _slots.SelectMany(s => s.Factored
        ? new[] { ("adafactor_row." + s.Name, s.Row!), ("adafactor_col." + s.Name, s.Column!) }
        : new[] { ("adafactor_v." + s.Name, s.Full!) });

    public long StepCount { get; set; }

    /// <summary>One update of every parameter that has a gradient; <paramref name="lr"/> is used unless the step
    /// size is relative.</summary>
    public void Step(double lr)
    {
        StepCount++;
        double t = StepCount;
        double beta2 = 1 - Math.Pow(t, DecayExponent);
        double relative = Math.Min(1e-2, 1 / Math.Sqrt(t));
        using var noGrad = no_grad();
        foreach (var slot in _slots)
        {
            using var scope = NewDisposeScope();
            var grad = slot.Parameter.grad;
            if (grad is null) continue;
            var update = ScaledGradient(slot, grad, beta2);
            update.div_(Math.Max(1, Rms(update) / ClipThreshold));
            double stepSize = _relativeStep ? Math.Max(Epsilon2, Rms(slot.Parameter)) * relative : lr;
            if (!slot.Factored || _weightDecay == 0) slot.Parameter.add_(update, -stepSize);
            else slot.Parameter.mul_(1 - stepSize * _weightDecay).add_(update, -stepSize);
        }
    }

    /// <summary>
    /// Updates the second-moment state with G² + ε1 and returns G / √V̂, where V̂ = R Cᵀ / mean(R) for a matrix
    /// (R, C the row and column means) and V̂ = V for a vector. Temporaries are freed as soon as they are used:
    /// for a 1.5B model's wte each is 322 MB.
    /// </summary>
    private static Tensor ScaledGradient(Slot slot, Tensor grad, double beta2)
    {
        using (var squared = grad.square().add_(Epsilon1))                                       // (…, n, m)
        {
            if (!slot.Factored)
            {
                slot.Full!.mul_(beta2).add_(squared, 1 - beta2);
                return grad * slot.Full.rsqrt();
            }
            slot.Row!.mul_(beta2).add_(squared.mean([-1]), 1 - beta2);                         // (…, n)
            slot.Column!.mul_(beta2).add_(squared.mean([-2]), 1 - beta2);                      // (…, m)
        }
        var rowScale = (slot.Row / slot.Row.mean([-1], keepdim: true)).rsqrt_().unsqueeze(-1);  // (…, n, 1)
        var columnScale = slot.Column.rsqrt().unsqueeze(-2);                                    // (…, 1, m)
        return (grad * rowScale).mul_(columnScale);
    }

    /// <summary>Root mean square of every element (through the norm: no temporary the size of x).</summary>
    private static double Rms(Tensor x) => x.norm().item<float>() / Math.Sqrt(x.numel());

    /// <summary>Zeroes every gradient in place, so each parameter keeps one gradient buffer for the whole run.
    /// </summary>
    public void ZeroGrad()
    {
        foreach (var slot in _slots)
        {
            using var grad = slot.Parameter.grad;
            grad?.zero_();
        }
    }

    public void Dispose()
    {
        foreach (var slot in _slots)
        {
            slot.Row?.Dispose();
            slot.Column?.Dispose();
            slot.Full?.Dispose();
        }
    }
}
