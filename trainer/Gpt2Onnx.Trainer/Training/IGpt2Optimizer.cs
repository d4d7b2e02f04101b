using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// What the training loop and checkpoints need of an optimizer (AdamW or Adafactor): a step from the current
/// gradients, its update count, and its state as named tensors, so a resumed run continues from the same state.
/// </summary>
public interface IGpt2Optimizer : IDisposable
{
    /// <summary>Every parameter it updates.</summary>
    IEnumerable<Parameter> Trainable { get; }

    /// <summary>
    /// Every state tensor under the name it is saved with. Restoring a checkpoint copies into these tensors,
    /// so they exist from construction on.
    /// </summary>
    IEnumerable<(string Name, Tensor Value)> State { get; }

    /// <summary>Updates taken so far.</summary>
    long StepCount { get; set; }

    /// <summary>One update from the current gradients, at learning rate <paramref name="lr"/>.</summary>
    void Step(double lr);

    /// <summary>Sets every gradient to zero, in place: one gradient buffer per parameter for the whole run.</summary>
    void ZeroGrad();
}
