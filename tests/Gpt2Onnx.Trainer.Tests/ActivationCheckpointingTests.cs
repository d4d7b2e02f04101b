using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// Activation checkpointing against the plain backward pass: the same loss, the same gradients to float32
/// round-off (dropout on, so the recompute must draw the same masks), and the generator left where a plain
/// forward leaves it.
/// </summary>
public class ActivationCheckpointingTests
{
    private sealed record Pass(float Loss, Dictionary<string, float[]> Gradients, byte[] GeneratorAfter);

    /// <summary>
    /// One forward and backward of a 4-layer model with dropout 0.2, plain or checkpointed; the dropout masks come
    /// from the generator seeded with <paramref name="dropoutSeed"/>.
    /// </summary>
    private static Pass Run(ActivationCheckpointing? checkpointing, int microBatches = 1, ulong dropoutSeed = 11)
    {
        var config = TinyCheckpoint.Config(layers: 4) with { EmbdPdrop = 0.2, AttnPdrop = 0.2, ResidPdrop = 0.2 };
        using var model = Gpt2Model.Create(config, seed: 3);
        model.train();
        using var scope = NewDisposeScope();
        var random = new Random(5);
        var ids = tensor(Enumerable.Range(0, 2 * 16).Select(_ => (long)random.Next(96)).ToArray(), [2, 16]);
        var targets = ids.roll(-1, 1);
        TorchRandom.Seed(dropoutSeed);
        float loss;
        if (checkpointing is null)
        {
            var value = model.Loss(ids, targets);
            (value / microBatches).backward();
            loss = value.item<float>();
        }
        else
        {
            loss = checkpointing.LossAndBackward(model, ids, targets, microBatches);
        }
        var gradients = model.Parameters.ToDictionary(p => p.Name, p => p.Tensor.grad!.data<float>().ToArray());
        return new Pass(loss, gradients, TorchRandom.GetState());
    }

    private static void AssertSameGradients(Pass expected, Pass actual)
    {
        Assert.Equal(expected.Loss, actual.Loss, 6);
        foreach (var (name, plain) in expected.Gradients)
        {
            float scale = plain.Max(Math.Abs);
            Assert.True(scale > 0, $"{name} has no gradient: the test would not see a difference");
            var checkpointed = actual.Gradients[name];
            double worst = plain.Zip(checkpointed).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= 1e-5 * scale, $"{name}: gradients differ by {worst} (largest {scale})");
        }
        Assert.Equal(expected.GeneratorAfter, actual.GeneratorAfter);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Gradients_equal_the_plain_backward_with_dropout(int every) =>
        AssertSameGradients(Run(null), Run(new ActivationCheckpointing(every)));

    [Fact]
    public void A_micro_batch_share_of_the_gradient_is_the_plain_one_divided_alike() =>
        AssertSameGradients(Run(null, microBatches: 4), Run(new ActivationCheckpointing(2), microBatches: 4));

    [Fact]
    public void The_dropout_masks_matter_so_a_different_generator_state_gives_other_gradients()
    {
        var plain = Run(null);
        // The invariant above is not vacuous: the same pass with another seed differs well beyond round-off.
        var otherMasks = Run(new ActivationCheckpointing(1), dropoutSeed: 12);
        Assert.NotEqual(plain.Loss, otherMasks.Loss);
    }
}
