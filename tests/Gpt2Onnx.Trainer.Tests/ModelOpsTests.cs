using Gpt2Onnx.Trainer.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>The operations GPT-2 is built from, against values computed by hand or by a plain C# formula.</summary>
public class ModelOpsTests
{
    private static void Near(double expected, double actual, double tolerance = 1e-5) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected}, got {actual}");

    [Fact]
    public void Conv1D_multiplies_by_its_in_by_out_weight_and_adds_the_bias()
    {
        using var scope = NewDisposeScope();
        using var conv = new Conv1D(2, 2);
        using (no_grad())
        {
            conv.Weight.copy_(tensor(new float[] { 5, 6, 7, 8 }, [2, 2]));
            conv.named_parameters().Single(p => p.name == "bias").parameter.copy_(tensor(new float[] { 1, -1 }));
        }
        var y = conv.forward(tensor(new float[] { 1, 2, 3, 4 }, [1, 2, 2]));
        Assert.Equal([1L, 2, 2], y.shape);
        Assert.Equal([20f, 21, 44, 49], y.data<float>().ToArray());
        Assert.Equal(["weight", "bias"], conv.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void Conv1D_in_bf16_computes_in_bf16_from_fp32_weights()
    {
        using var scope = NewDisposeScope();
        using var conv = new Conv1D(8, 2) { ComputeType = ScalarType.BFloat16 };
        var y = conv.forward(randn(4, 8));
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        Assert.Equal(ScalarType.Float32, conv.Weight.dtype);
    }

    [Fact]
    public void Gelu_tanh_is_GPT2s_gelu_new_formula()
    {
        using var scope = NewDisposeScope();
        float[] x = [-3, -1, -0.5f, 0, 0.5f, 1, 3];
        var y = F.gelu(tensor(x), TorchSharp.Modules.GELU.Approximate.tanh).data<float>().ToArray();
        for (int i = 0; i < x.Length; i++)
            Near(0.5 * x[i] * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x[i] + 0.044715 * Math.Pow(x[i], 3)))), y[i]);
    }

    [Fact]
    public void Causal_attention_matches_the_explicit_formula_computed_in_CSharp()
    {
        using var scope = NewDisposeScope();
        const int T = 4, D = 3;
        var random = new Random(7);
        float[] Fill() => Enumerable.Range(0, T * D).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] q = Fill(), k = Fill(), v = Fill();
        long[] shape = [1, 1, T, D];
        var y = CausalSelfAttention.Attend(tensor(q, shape), tensor(k, shape), tensor(v, shape))
            .data<float>().ToArray();
        for (int i = 0; i < T; i++)
        {
            double Dot(int j) => Enumerable.Range(0, D).Sum(d => q[i * D + d] * k[j * D + d]);
            var scores = Enumerable.Range(0, i + 1).Select(j => Dot(j) / Math.Sqrt(D)).ToArray();
            double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
            for (int d = 0; d < D; d++)
                Near(Enumerable.Range(0, i + 1).Sum(j => Math.Exp(scores[j] - max) / sum * v[j * D + d]), y[i * D + d]);
        }
    }

    [Fact]
    public void Attention_with_a_shorter_query_sees_every_earlier_key_and_padding_hides_keys()
    {
        using var scope = NewDisposeScope();
        // One query at the end of 3 keys attends to all 3; with the first key padded it ignores it.
        var q = zeros(1, 1, 1, 2);
        var k = zeros(1, 1, 3, 2);
        var v = tensor(new float[] { 3, 0, 6, 0, 9, 0 }, [1, 1, 3, 2]);
        Near(6, CausalSelfAttention.Attend(q, k, v).data<float>()[0]);
        Near(7.5, CausalSelfAttention.Attend(q, k, v, tensor(new[] { true, false, false }, [1, 3])).data<float>()[0]);
    }

    [Fact]
    public void A_padded_query_that_sees_no_key_gets_finite_values_not_NaN()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 1, 3, 2);
        var padding = tensor(new[] { true, true, false }, [1, 3]);
        var y = CausalSelfAttention.Attend(x, x, x, padding).data<float>().ToArray();
        Assert.All(y, value => Assert.True(float.IsFinite(value)));
    }

    [Fact]
    public void Cross_entropy_averages_negative_log_likelihood_and_skips_ignored_targets()
    {
        using var scope = NewDisposeScope();
        float[] logits = [2, 1, 0, 0, 0, 0, 1, 2, 3];
        var loss = F.cross_entropy(tensor(logits, [3, 3]), tensor(new long[] { 0, -100, 2 })).item<float>();
        double row0 = -(2 - Math.Log(Math.Exp(2) + Math.Exp(1) + 1));
        double row2 = -(3 - Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)));
        Near((row0 + row2) / 2, loss);
    }
}
