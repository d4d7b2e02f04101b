using TorchSharp;
using Gpt2Onnx.Trainer.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// Every differentiable operation GPT-2 uses: autograd's gradient against central finite differences (float64).
/// </summary>
public class GradientTests
{
    /// <summary>Compares d f(x) / dx from backward() with (f(x + h) - f(x - h)) / 2h for every element of x.</summary>
    private static void CheckGradient(long[] shape, Func<Tensor, Tensor> f, int seed = 0, double tolerance = 1e-6)
    {
        using var scope = NewDisposeScope();
        var random = new Random(seed);
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        double[] values = Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 1).ToArray();

        var x = tensor(values, shape).requires_grad_();
        f(x).backward();
        double[] analytic = x.grad!.data<double>().ToArray();

        const double h = 1e-6;
        double Evaluate(double[] v)
        {
            using var inner = NewDisposeScope();
            using var noGrad = no_grad();
            return f(tensor(v, shape)).item<double>();
        }
        for (int i = 0; i < n; i++)
        {
            double saved = values[i];
            values[i] = saved + h;
            double plus = Evaluate(values);
            values[i] = saved - h;
            double minus = Evaluate(values);
            values[i] = saved;
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance * Math.Max(1, Math.Abs(numeric)),
                $"element {i}: autograd {analytic[i]}, finite difference {numeric}");
        }
    }

    private static Tensor Weights(long[] shape, int seed)
    {
        var random = new Random(seed);
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        return tensor(Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray(), shape);
    }

    // A weighted sum turns any output into a scalar whose gradient reaches every element.
    private static Tensor Project(Tensor y) => (y * Weights(y.shape, 99)).sum();

    /// <summary>A float64 Conv1D with fixed weights.</summary>
    private static Conv1D Conv(long inputs, long outputs)
    {
        var conv = new Conv1D(inputs, outputs);
        conv.to(ScalarType.Float64);
        using var noGrad = no_grad();
        conv.Weight.copy_(Weights([inputs, outputs], 3));
        conv.named_parameters().Single(p => p.name == "bias").parameter.copy_(Weights([outputs], 4));
        return conv;
    }

    private static readonly long[] Heads = [1, 2, 4, 3]; // (B, nh, T, hs)

    [Fact]
    public void Layer_norm() =>
        CheckGradient([3, 5], x => Project(F.layer_norm(x, [5], Weights([5], 1) + 1, Weights([5], 2), 1e-5)));

    [Fact]
    public void Layer_norm_weight() =>
        CheckGradient([5], w => Project(F.layer_norm(Weights([3, 5], 1), [5], w, Weights([5], 2), 1e-5)));

    [Fact] public void Gelu_tanh() => CheckGradient([2, 4], x => Project(F.gelu(x * 3, GELU.Approximate.tanh)));

    [Fact] public void Conv1D_input() => CheckGradient([2, 3, 4], x => Project(Conv(4, 6).forward(x)));

    /// <summary>The weight's gradient through the product Conv1D computes (its [in, out] weight
    /// untransposed).</summary>
    [Fact]
    public void Conv1D_weight() =>
        CheckGradient([4, 6], w => Project(addmm(Weights([6], 4), Weights([5, 4], 3), w, 1, 1)));

    [Fact]
    public void Embedding_rows() =>
        CheckGradient([5, 3], w => Project(w.index_select(0, tensor(new long[] { 4, 0, 4, 2 }))));

    [Fact]
    public void Cross_entropy() => CheckGradient([4, 6], x => F.cross_entropy(x, tensor(new long[] { 1, 5, -100, 0 })));

    [Fact]
    public void Causal_attention_query() =>
        CheckGradient(Heads, q => Project(CausalSelfAttention.Attend(q, Weights(Heads, 6), Weights(Heads, 7))));

    [Fact]
    public void Causal_attention_key() =>
        CheckGradient(Heads, k => Project(CausalSelfAttention.Attend(Weights(Heads, 6), k, Weights(Heads, 7))));

    [Fact]
    public void Causal_attention_value() =>
        CheckGradient(Heads, v => Project(CausalSelfAttention.Attend(Weights(Heads, 6), Weights(Heads, 7), v)));

    [Fact]
    public void Causal_attention_with_padding() => CheckGradient(Heads, q =>
    {
        var padding = tensor(new[] { false, true, false, false }, [1, 4]);
        return Project(CausalSelfAttention.Attend(q, Weights(Heads, 6), Weights(Heads, 7), padding));
    });

    [Fact]
    public void Shapes_and_joins() =>
        CheckGradient([2, 6], x => Project(cat(x.reshape(2, 2, 3).transpose(1, 2).split(1, 2), 1).narrow(1, 1, 3)));
}
