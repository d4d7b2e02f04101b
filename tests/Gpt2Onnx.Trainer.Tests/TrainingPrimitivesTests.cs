using System.Diagnostics;
using Gpt2Onnx.Trainer.Torch;
using static Gpt2Onnx.Trainer.Torch.Functional;

namespace Gpt2Onnx.Trainer.Tests;

public class TrainingPrimitivesTests
{
    [Fact]
    public void AdamW_step_matches_the_published_update_rule()
    {
        using var scope = DisposeScope.Enter();
        var p = Tensor.From<double>([1.0, -2.0], 2);
        p.RequiresGrad = true;
        (p * Tensor.From<double>([3.0, 4.0], 2)).Sum().Backward(); // gradient (3, 4)
        using var adam = new AdamW([p], [0.1], beta1: 0.9, beta2: 0.95, eps: 1e-8);
        adam.Update(lr: 0.01);
        double[] g = [3, 4], start = [1, -2];
        var updated = p.Detach().ToArray<double>();
        for (int i = 0; i < 2; i++)
        {
            double decayed = start[i] * (1 - 0.01 * 0.1);
            double m = 0.1 * g[i], v = 0.05 * g[i] * g[i];
            double mHat = m / (1 - 0.9), vHat = v / (1 - 0.95);
            Assert.Equal(decayed - 0.01 * mHat / (Math.Sqrt(vHat) + 1e-8), updated[i], 12);
        }
        Assert.Equal(1, adam.Step);
    }

    [Fact]
    public void Gradient_clipping_scales_to_the_max_norm_and_returns_the_norm_before()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.From<double>([0.0, 0.0], 2);
        a.RequiresGrad = true;
        (a * Tensor.From<double>([3.0, 4.0], 2)).Sum().Backward(); // gradient norm 5
        Assert.Equal(5, Autograd.ClipGradNorm([a], 1.0), 9);
        var clipped = a.Grad()!.ToArray<double>();
        Assert.Equal(0.6, clipped[0], 5);
        Assert.Equal(0.8, clipped[1], 5);
    }

    [Fact]
    public void Zeroing_gradients_drops_them()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Ones([2]);
        a.RequiresGrad = true;
        (a * 2).Sum().Backward();
        Assert.NotNull(a.Grad());
        Autograd.ZeroGrad([a]);
        Assert.Null(a.Grad());
    }

    [Fact]
    public void No_grad_scopes_record_nothing()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Ones([2]);
        a.RequiresGrad = true;
        using (Autograd.NoGrad())
            Assert.False((a * 2).RequiresGrad);
        Assert.True((a * 2).RequiresGrad);
    }

    [Fact]
    public void Restoring_the_generator_state_replays_the_same_random_numbers()
    {
        using var scope = DisposeScope.Enter();
        TorchRandom.Seed(42);
        var state = TorchRandom.GetState();
        var first = Tensor.Randn([8]).ToArray<float>();
        var dropped = Dropout(Tensor.Ones([16]), 0.5, true).ToArray<float>();
        TorchRandom.SetState(state);
        Assert.Equal(first, Tensor.Randn([8]).ToArray<float>());
        Assert.Equal(dropped, Dropout(Tensor.Ones([16]), 0.5, true).ToArray<float>());
    }

    [Fact]
    public void Bf16_autocast_runs_matrix_products_in_bf16_only_inside_its_scope()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Randn([4, 8]);
        var b = Tensor.Randn([8, 2]);
        using (new Autocast(ScalarType.BFloat16))
            Assert.Equal(ScalarType.BFloat16, a.MatMul(b).DType);
        Assert.Equal(ScalarType.Float32, a.MatMul(b).DType);
    }

    [Fact]
    public void A_dispose_scope_frees_every_temporary_and_keeps_what_is_moved_out()
    {
        long before = Tensor.LiveCount;
        Tensor kept;
        using (var scope = DisposeScope.Enter())
        {
            var x = Tensor.Ones([4]);
            var y = (x * 2 + 1).Exp();
            kept = scope.MoveToOuter(y.Sum());
        }
        Assert.Equal(before + 1, Tensor.LiveCount);
        Assert.Equal(4 * Math.Exp(3), kept.ToDouble(), 3);
        kept.Dispose();
        Assert.Equal(before, Tensor.LiveCount);
    }

    [Fact]
    public void Ten_thousand_forward_backward_steps_keep_memory_flat()
    {
        using var model = DisposeScope.Enter();
        TorchRandom.Seed(0);
        var w1 = Tensor.Randn([16, 32]) * 0.1;
        var w2 = Tensor.Randn([32, 8]) * 0.1;
        var parameters = new[] { w1, w2 };
        foreach (var p in parameters) p.RequiresGrad = true;
        using var adam = new AdamW(parameters, [0.1, 0.1]);
        var x = Tensor.Randn([4, 16]);
        var targets = Tensor.From<long>([1, 2, 3, 4], 4);

        void Step()
        {
            using var step = DisposeScope.Enter();
            var h = Gelu(x.MatMul(w1));
            var loss = CrossEntropy(LayerNorm(h, Tensor.Ones([32]), Tensor.Zeros([32]), 1e-5).MatMul(w2), targets);
            loss.Backward();
            Autograd.ClipGradNorm(parameters, 1.0);
            adam.Update(1e-3);
            Autograd.ZeroGrad(parameters);
        }

        for (int i = 0; i < 500; i++) Step(); // warm up allocators
        long liveBefore = Tensor.LiveCount;
        long freedByGcBefore = Tensor.FreedByGarbageCollector;
        long rssBefore = Process.GetCurrentProcess().WorkingSet64;
        for (int i = 0; i < 10_000; i++) Step();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(freedByGcBefore, Tensor.FreedByGarbageCollector); // scopes freed every temporary, not the GC
        long rssGrowth = Process.GetCurrentProcess().WorkingSet64 - rssBefore;
        Assert.Equal(liveBefore, Tensor.LiveCount);
        Assert.True(rssGrowth < 32L << 20, $"RSS grew by {rssGrowth >> 20} MB over 10,000 steps");
    }
}

