using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using Gpt2Onnx.Trainer.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Tests;

public class TrainingPrimitivesTests
{
    [Fact]
    public void AdamW_step_matches_the_published_update_rule_with_decay_on_matrices_only()
    {
        using var scope = NewDisposeScope();
        var matrix = new Parameter(tensor(new[] { 1.0, -2.0 }, [1, 2]));
        var bias = new Parameter(tensor(new[] { 1.0, -2.0 }));
        ((matrix.flatten() + bias) * tensor(new[] { 3.0, 4.0 })).sum().backward(); // both gradients (3, 4)
        using var adam = new Gpt2Optimizer([("w", matrix), ("b", bias)], weightDecay: 0.1, beta1: 0.9, beta2: 0.95,
                                           eps: 1e-8);
        adam.Step(lr: 0.01);
        double[] g = [3, 4], start = [1, -2];
        foreach (var (parameter, decay) in new[] { (matrix, 0.1), (bias, 0.0) })
        {
            var updated = parameter.detach().flatten().data<double>().ToArray();
            for (int i = 0; i < 2; i++)
            {
                double decayed = start[i] * (1 - 0.01 * decay);
                double m = 0.1 * g[i], v = 0.05 * g[i] * g[i];
                double mHat = m / (1 - 0.9), vHat = v / (1 - 0.95);
                Assert.Equal(decayed - 0.01 * mHat / (Math.Sqrt(vHat) + 1e-8), updated[i], 12);
            }
        }
        Assert.Equal(1, adam.StepCount);
        Assert.Equal(["w", "b"], adam.Moments.Select(m => m.Name));
    }

    [Fact]
    public void Gradient_clipping_scales_to_the_max_norm_and_returns_the_norm_before()
    {
        using var scope = NewDisposeScope();
        var a = new Parameter(zeros(2, ScalarType.Float64));
        (a * tensor(new[] { 3.0, 4.0 })).sum().backward(); // gradient norm 5
        Assert.Equal(5, nn.utils.clip_grad_norm_([a], 1.0), 9);
        var clipped = a.grad!.data<double>().ToArray();
        Assert.Equal(0.6, clipped[0], 5);
        Assert.Equal(0.8, clipped[1], 5);
    }

    [Fact]
    public void Restoring_the_generator_state_replays_the_same_random_numbers()
    {
        using var scope = NewDisposeScope();
        TorchRandom.Seed(42);
        var state = TorchRandom.GetState();
        var first = randn(8).data<float>().ToArray();
        var dropped = F.dropout(ones(16), 0.5, true).data<float>().ToArray();
        TorchRandom.SetState(state);
        Assert.Equal(first, randn(8).data<float>().ToArray());
        Assert.Equal(dropped, F.dropout(ones(16), 0.5, true).data<float>().ToArray());
    }

    [Fact]
    public void Bf16_mixed_precision_keeps_fp32_weights_gradients_and_loss()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Model.Create(Gpt2Onnx.TestSupport.TinyCheckpoint.Config(), seed: 1);
        model.ComputeType = ScalarType.BFloat16;
        var ids = tensor(new long[] { 1, 2, 3, 4 }, [1, 4]);
        Assert.Equal(ScalarType.BFloat16, model.Forward(ids).dtype);
        var loss = model.Loss(ids, ids);
        Assert.Equal(ScalarType.Float32, loss.dtype);
        loss.backward();
        Assert.All(model.Parameters, p => Assert.Equal(ScalarType.Float32, p.Tensor.grad!.dtype));
        Assert.All(model.Parameters, p => Assert.Equal(ScalarType.Float32, p.Tensor.dtype));
    }

    [Fact]
    public void Bf16_logits_are_within_bf16_rounding_of_the_fp32_ones()
    {
        using var scope = NewDisposeScope();
        using var model = Gpt2Model.Create(Gpt2Onnx.TestSupport.TinyCheckpoint.Config(), seed: 1);
        var ids = tensor(new long[] { 1, 2, 3, 4, 5, 6 }, [1, 6]);
        using var noGrad = no_grad();
        var fp32 = model.Forward(ids).data<float>().ToArray();
        model.ComputeType = ScalarType.BFloat16;
        var bf16 = model.Forward(ids).to_type(ScalarType.Float32).data<float>().ToArray();
        double scale = fp32.Max(Math.Abs);
        // bf16 keeps 8 bits of mantissa: each product's inputs are rounded by up to 2^-9 of their size.
        Assert.True(fp32.Zip(bf16).Max(p => Math.Abs(p.First - p.Second)) <= 0.02 * scale);
    }

    [Fact]
    public void A_dispose_scope_frees_every_temporary_of_a_training_step()
    {
        using var model = Gpt2Model.Create(Gpt2Onnx.TestSupport.TinyCheckpoint.Config(), seed: 1);
        model.train();
        using var adam = new Gpt2Optimizer(model.Parameters.ToList(), 0.1);
        void Step()
        {
            using var step = NewDisposeScope();
            var ids = tensor(new long[] { 1, 2, 3, 4 }, [1, 4]);
            model.Loss(ids, ids).backward();
            nn.utils.clip_grad_norm_(adam.Trainable, 1.0);
            adam.Step(1e-3);
            adam.ZeroGrad();
        }
        for (int i = 0; i < 3; i++) Step(); // the optimizer's moments and the gradients now exist
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 50; i++) Step();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
