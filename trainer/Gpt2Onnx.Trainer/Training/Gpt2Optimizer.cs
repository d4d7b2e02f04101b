using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// torch.optim.AdamW over the trainable parameters in two groups, as GPT-2 is trained: matrices decayed,
/// biases and LayerNorm gains not. Names each parameter's moments for checkpoints, so a resumed run
/// continues from the exact same optimizer state.
/// </summary>
public sealed class Gpt2Optimizer : IGpt2Optimizer
{
    private readonly AdamW _adam;
    private readonly List<(string Name, Parameter Parameter)> _parameters;

    /// <param name="parameters">the trainable parameters with their GPT-2 names</param>
    public Gpt2Optimizer(IReadOnlyList<(string Name, Parameter Parameter)> parameters, double weightDecay,
                         double beta1 = 0.9, double beta2 = 0.95, double eps = 1e-8)
    {
        var decayed = parameters.Where(p => p.Parameter.dim() >= 2).ToList();
        var plain = parameters.Where(p => p.Parameter.dim() < 2).ToList();
        // The optimizer keeps its state in group order; the names follow that order.
        _parameters = [.. decayed, .. plain];
        var groups = new List<AdamW.ParamGroup>();
        foreach (var (members, decay) in new[] { (decayed, weightDecay), (plain, 0.0) })
            if (members.Count > 0)
                groups.Add(new AdamW.ParamGroup(members.Select(p => p.Parameter),
                                                new AdamW.Options { weight_decay = decay }));
        _adam = optim.AdamW(groups, lr: 0, beta1: beta1, beta2: beta2, eps: eps, weight_decay: weightDecay);
    }

    /// <summary>Every trainable parameter, decayed ones first.</summary>
    public IEnumerable<Parameter> Trainable => _parameters.Select(p => p.Parameter);

    /// <summary>
    /// Each parameter's name with its first and second moments and its update count (the state torch's AdamW keeps).
    /// </summary>
    public IEnumerable<(string Name, AdamW.State State)> Moments =>
        _parameters.Zip(_adam.state_dict().State.Cast<AdamW.State>(), (p, s) => (p.Name, s));

    /// <summary>Each parameter's moments as exp_avg.{name} and exp_avg_sq.{name}.</summary>
    public IEnumerable<(string Name, Tensor Value)> State =>
        Moments.SelectMany(m => new[]
        {
            ("exp_avg." + m.Name, m.State.exp_avg), ("exp_avg_sq." + m.Name, m.State.exp_avg_sq),
        });

    /// <summary>One update at learning rate <paramref name="lr"/> of every group, from the current gradients.</summary>
    public void Step(double lr)
    {
        foreach (var group in _adam.ParamGroups) group.LearningRate = lr;
        _adam.step();
    }

    /// <summary>Updates taken so far (each parameter's own count, equal for all: a step updates every one).</summary>
    public long StepCount
    {
        get => Moments.Select(m => m.State.step).DefaultIfEmpty(0).Max();
        set
        {
            foreach (var (_, state) in Moments) state.step = value;
        }
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad() => _adam.zero_grad();

    public void Dispose() => _adam.Dispose();
}
