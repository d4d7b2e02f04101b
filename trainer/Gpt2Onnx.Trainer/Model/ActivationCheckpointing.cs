using Gpt2Onnx.Trainer.Torch;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// Memory-saving gradients: the forward pass runs the blocks without autograd and keeps only the input of every
/// k-th block (a segment's start) and the random generator's state there; the backward pass walks the segments
/// in reverse, restores that state (so dropout draws the same masks), recomputes the segment with autograd and
/// back-propagates the gradient of its output through it. Peak activation memory is then one segment's
/// activations plus one (B, T, C) tensor per segment, for about one extra forward pass of compute.
/// Built as an explicit recompute-and-backward per segment rather than on TorchSharp's custom autograd functions:
/// the recompute's lifetime is one dispose scope per segment, and no backward runs re-entrantly inside
/// libtorch's engine through a managed callback (see the README, "Fine-tuning large models").
/// </summary>
public sealed class ActivationCheckpointing
{
    /// <param name="every">blocks per segment: 1 keeps every block's input, k every k-th</param>
    public ActivationCheckpointing(int every)
    {
        if (every < 1) throw new ArgumentOutOfRangeException(nameof(every), every, "a segment holds one block or more");
        Every = every;
    }

    public int Every { get; }

    /// <summary>
    /// The mean cross entropy of <paramref name="inputIds"/> (B, T) against <paramref name="targets"/> (B, T),
    /// with the gradient of that loss / <paramref name="microBatches"/> added into every parameter's gradient.
    /// The generator ends where a plain forward would leave it.
    /// </summary>
    public float LossAndBackward(Gpt2Model model, Tensor inputIds, Tensor targets, int microBatches)
    {
        var blocks = model.Blocks;
        var segments = Enumerable.Range(0, (blocks.Count + Every - 1) / Every)
            .Select(s => (Start: s * Every, Count: Math.Min(Every, blocks.Count - s * Every))).ToList();
        var embedded = model.Embed(inputIds);                                              // (B, T, C), with grad
        var inputs = new List<Tensor>(segments.Count);
        var generatorStates = new List<byte[]>(segments.Count);
        var x = embedded.detach();
        foreach (var (start, count) in segments)
        {
            inputs.Add(x);
            generatorStates.Add(TorchRandom.GetState());
            x = RunSegment(model, start, count, x, withGrad: false);
        }
        byte[] afterForward = TorchRandom.GetState();

        var (loss, grad) = HeadBackward(model, x, targets, microBatches);                          // grad: (B, T, C)
        for (int s = segments.Count - 1; s >= 0; s--)
        {
            TorchRandom.SetState(generatorStates[s]);
            grad = SegmentBackward(model, segments[s].Start, segments[s].Count, inputs[s], grad);
        }
        embedded.backward([grad]);
        TorchRandom.SetState(afterForward);
        return loss;
    }

    /// <summary>Blocks start..start+count-1 on x (B, T, C); only the output outlives the call.</summary>
    private static Tensor RunSegment(Gpt2Model model, int start, int count, Tensor x, bool withGrad)
    {
        using var scope = NewDisposeScope();
        using var gradMode = withGrad ? enable_grad() : no_grad();
        for (int i = start; i < start + count; i++) x = model.Blocks[i].forward(x, null);
        return x.MoveToOuterDisposeScope();
    }

    /// <summary>ln_f, the LM head and the loss on the last segment's output, back-propagated to that output.
    /// </summary>
    private static (float Loss, Tensor Grad) HeadBackward(Gpt2Model model, Tensor last, Tensor targets,
                                                          int microBatches)
    {
        using var scope = NewDisposeScope();
        var top = last.detach().requires_grad_(true);                                      // (B, T, C)
        var loss = model.CrossEntropy(model.Head(top), targets);
        (loss / microBatches).backward();
        return (loss.item<float>(), top.grad!.MoveToOuterDisposeScope());
    }

    /// <summary>Recomputes one segment with autograd and returns the gradient at its input (B, T, C).</summary>
    private static Tensor SegmentBackward(Gpt2Model model, int start, int count, Tensor input, Tensor outputGrad)
    {
        using var scope = NewDisposeScope();
        var leaf = input.detach().requires_grad_(true);
        var output = RunSegment(model, start, count, leaf, withGrad: true);
        output.backward([outputGrad]);
        return leaf.grad!.MoveToOuterDisposeScope();
    }
}
