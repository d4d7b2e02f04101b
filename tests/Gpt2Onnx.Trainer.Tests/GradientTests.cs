using Gpt2Onnx.Trainer.Torch;
using static Gpt2Onnx.Trainer.Torch.Functional;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Every differentiable operation GPT-2 uses: autograd's gradient against central finite differences (float64).</summary>
public class GradientTests
{
    /// <summary>
    /// Compares d f(x) / dx from backward() with (f(x + h) - f(x - h)) / 2h for every element of x.
    /// </summary>
    private static void CheckGradient(long[] shape, Func<Tensor, Tensor> f, int seed = 0, double tolerance = 1e-6)
    {
        using var scope = DisposeScope.Enter();
        var random = new Random(seed);
        int n = (int)shape.Aggregate(1L, (a, b) => a * b);
        double[] values = Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 1).ToArray();

        var x = Tensor.From<double>(values, shape);
        x.RequiresGrad = true;
        f(x).Backward();
        double[] analytic = x.Grad()!.ToArray<double>();

        const double h = 1e-6;
        double Evaluate(double[] v)
        {
            using var inner = DisposeScope.Enter();
            using var noGrad = Autograd.NoGrad();
            return f(Tensor.From<double>(v, shape)).ToDouble();
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
        return Tensor.From<double>(Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray(), shape);
    }

    // A weighted sum turns any output into a scalar whose gradient reaches every element.
    private static Tensor Project(Tensor y) => (y * Weights(y.Shape, 99)).Sum();

    [Fact] public void Layer_norm() => CheckGradient([3, 5], x => Project(LayerNorm(x, Weights([5], 1) + 1, Weights([5], 2), 1e-5)));
    [Fact] public void Layer_norm_weight() => CheckGradient([5], w => Project(LayerNorm(Weights([3, 5], 1), w, Weights([5], 2), 1e-5)));
    [Fact] public void Gelu_tanh() => CheckGradient([2, 4], x => Project(Gelu(x * 3)));
    [Fact] public void Softmax() => CheckGradient([2, 5], x => Project(Functional.Softmax(x, -1)));
    [Fact] public void Log_softmax() => CheckGradient([2, 5], x => Project(LogSoftmax(x, -1)));
    [Fact] public void Conv1D_input() => CheckGradient([2, 3, 4], x => Project(Conv1D(x, Weights([4, 6], 3), Weights([6], 4))));
    [Fact] public void Conv1D_weight() => CheckGradient([4, 6], w => Project(Conv1D(Weights([2, 3, 4], 3), w, Weights([6], 4))));
    [Fact] public void Matmul() => CheckGradient([3, 4], x => Project(x.MatMul(Weights([4, 2], 5))));
    [Fact] public void Embedding_weight() => CheckGradient([5, 3], w => Project(Embedding(w, Tensor.From<long>([4, 0, 4, 2], 4))));
    [Fact] public void Cross_entropy() => CheckGradient([4, 6], x => CrossEntropy(x, Tensor.From<long>([1, 5, -100, 0], 4)));
    [Fact] public void Causal_attention_query() => CheckGradient([1, 2, 4, 3], q => Project(CausalAttention(q, Weights([1, 2, 4, 3], 6), Weights([1, 2, 4, 3], 7))));
    [Fact] public void Causal_attention_key() => CheckGradient([1, 2, 4, 3], k => Project(CausalAttention(Weights([1, 2, 4, 3], 6), k, Weights([1, 2, 4, 3], 7))));
    [Fact] public void Causal_attention_value() => CheckGradient([1, 2, 4, 3], v => Project(CausalAttention(Weights([1, 2, 4, 3], 6), Weights([1, 2, 4, 3], 7), v)));
    [Fact] public void Elementwise_arithmetic() => CheckGradient([6], x => Project((x * x + x.Exp() - x.Tanh()) / (x.Square() + 2)));
    [Fact] public void Shapes_and_joins() => CheckGradient([2, 6], x => Project(Tensor.Cat(x.Reshape(2, 2, 3).Transpose(1, 2).Split(1, 2), 1).Narrow(1, 1, 3)));
}
