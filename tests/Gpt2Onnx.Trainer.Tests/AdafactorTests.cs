using Gpt2Onnx.Trainer.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// Adafactor against the algorithm as Shazeer and Stern (2018) write it (algorithms 4 and 5, with sums over
/// rows and columns), computed here in float64 for a few steps on small tensors.
/// </summary>
public class AdafactorTests
{
    /// <summary>The paper's definition for one tensor: a rows × columns matrix, or a vector when rows is 0.
    /// </summary>
    private sealed class Reference(double[] x, int rows, int columns, double weightDecay, bool decayed)
    {
        public double[] X { get; } = x;
        private readonly double[] _r = new double[Math.Max(rows, 1)], _c = new double[columns];
        private readonly double[] _v = new double[x.Length];
        public bool Clipped { get; private set; }

        public void Step(int t, double[] g, double? lr)
        {
            double beta2 = 1 - Math.Pow(t, -0.8), eps1 = 1e-30, eps2 = 1e-3;
            var v = new double[g.Length];
            if (rows > 0)
            {
                // R_t = β R + (1 − β)(G² + ε1) 1_m;  C_t = β C + (1 − β) 1_nᵀ (G² + ε1);  V̂ = R C / (1_nᵀ R)
                double Squared(int i, int j) => g[i * columns + j] * g[i * columns + j] + eps1;
                for (int i = 0; i < rows; i++)
                    _r[i] = beta2 * _r[i] + (1 - beta2) * Enumerable.Range(0, columns).Sum(j => Squared(i, j));
                for (int j = 0; j < columns; j++)
                    _c[j] = beta2 * _c[j] + (1 - beta2) * Enumerable.Range(0, rows).Sum(i => Squared(i, j));
                double total = _r.Sum();
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < columns; j++) v[i * columns + j] = _r[i] * _c[j] / total;
            }
            else
            {
                for (int k = 0; k < g.Length; k++) v[k] = _v[k] = beta2 * _v[k] + (1 - beta2) * (g[k] * g[k] + eps1);
            }
            var u = g.Select((gk, k) => gk / Math.Sqrt(v[k])).ToArray();
            double rmsU = Rms(u);
            Clipped |= rmsU > 1;
            double alpha = lr ?? Math.Max(eps2, Rms(X)) * Math.Min(1e-2, 1 / Math.Sqrt(t));
            for (int k = 0; k < X.Length; k++)
                X[k] = X[k] * (decayed ? 1 - alpha * weightDecay : 1) - alpha * u[k] / Math.Max(1, rmsU);
        }

        private static double Rms(double[] a) => Math.Sqrt(a.Sum(e => e * e) / a.Length);
    }

    private static double[] Values(Random random, int n, double scale) =>
        Enumerable.Range(0, n).Select(_ => (random.NextDouble() * 2 - 1) * scale).ToArray();

    [Theory]
    [InlineData(null, 0.0)]
    [InlineData(0.05, 0.1)]
    public void Four_steps_match_the_definition_computed_in_float64(double? lr, double weightDecay)
    {
        using var scope = NewDisposeScope();
        var random = new Random(1);
        const int rows = 3, columns = 5;
        var matrix = new Reference(Values(random, rows * columns, 0.5), rows, columns, weightDecay, decayed: true);
        var vector = new Reference(Values(random, 4, 1.0), 0, 4, weightDecay, decayed: false);
        var w = new Parameter(tensor(matrix.X.Select(e => (float)e).ToArray(), [rows, columns]));
        var b = new Parameter(tensor(vector.X.Select(e => (float)e).ToArray(), [4]));
        using var adafactor = new Adafactor([("w", w), ("b", b)], weightDecay, relativeStep: lr is null);
        for (int t = 1; t <= 4; t++)
        {
            // Gradients whose scale differs by row and step, so the factored second moment is not uniform.
            var gw = Values(random, rows * columns, 1.0).Select((g, k) => g * (1 + k / columns) * t).ToArray();
            var gb = Values(random, 4, 0.1);
            w.grad = tensor(gw.Select(e => (float)e).ToArray(), [rows, columns]);
            b.grad = tensor(gb.Select(e => (float)e).ToArray(), [4]);
            matrix.Step(t, gw.Select(e => (double)(float)e).ToArray(), lr);
            vector.Step(t, gb.Select(e => (double)(float)e).ToArray(), lr);
            adafactor.Step(lr ?? 0);
            AssertClose(matrix.X, w, $"step {t}, matrix");
            AssertClose(vector.X, b, $"step {t}, vector");
        }
        Assert.True(matrix.Clipped, "no update was clipped: the test does not cover update clipping");
        Assert.Equal(4, adafactor.StepCount);
    }

    private static void AssertClose(double[] expected, Tensor actual, string what)
    {
        var values = actual.data<float>().ToArray();
        for (int k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(values[k] - expected[k]) <= 1e-6 * Math.Max(1, Math.Abs(expected[k])),
                        $"{what}, element {k}: {values[k]}, the definition gives {expected[k]}");
    }

    [Fact]
    public void A_matrix_keeps_one_number_per_row_and_per_column_and_a_vector_one_per_element()
    {
        using var scope = NewDisposeScope();
        var w = new Parameter(zeros(7, 11));
        var b = new Parameter(zeros(11));
        using var adafactor = new Adafactor([("w", w), ("b", b)], 0, relativeStep: true);
        var state = adafactor.State.ToDictionary(s => s.Name, s => s.Value.shape);
        Assert.Equal(new Dictionary<string, long[]>
        {
            ["adafactor_row.w"] = [7], ["adafactor_col.w"] = [11], ["adafactor_v.b"] = [11],
        }, state);
    }

    [Fact]
    public void Zeroing_keeps_each_gradient_buffer()
    {
        using var scope = NewDisposeScope();
        var w = new Parameter(ones(2, 3));
        using var adafactor = new Adafactor([("w", w)], 0, relativeStep: true);
        (w * w).sum().backward();
        var before = w.grad!;
        adafactor.Step(0);
        adafactor.ZeroGrad();
        Assert.True(System.Runtime.CompilerServices.Unsafe.AreSame(
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(before.bytes),
            ref System.Runtime.InteropServices.MemoryMarshal.GetReference(w.grad!.bytes)));
        Assert.All(w.grad!.data<float>().ToArray(), g => Assert.Equal(0f, g));
    }
}
