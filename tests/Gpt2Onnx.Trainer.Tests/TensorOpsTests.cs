using Gpt2Onnx.Trainer.Torch;
using static Gpt2Onnx.Trainer.Torch.Functional;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Every operation against values computed by hand or by a plain C# formula.</summary>
public class TensorOpsTests
{
    private static void Near(double expected, double actual, double tolerance = 1e-5) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected}, got {actual}");

    private static void Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Near(expected[i], actual[i], tolerance);
    }

    [Fact]
    public void Arithmetic_broadcasts_like_numpy()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.From<float>([1, 2, 3, 4, 5, 6], 2, 3);
        var b = Tensor.From<float>([10, 20, 30], 3);
        Assert.Equal([11f, 22, 33, 14, 25, 36], (a + b).ToArray<float>());
        Assert.Equal([-9f, -18, -27, -6, -15, -24], (a - b).ToArray<float>());
        Assert.Equal([10f, 40, 90, 40, 100, 180], (a * b).ToArray<float>());
        Assert.Equal([2f, 4, 6, 8, 10, 12], (a * 2).ToArray<float>());
        Assert.Equal([9f, 8, 7, 6, 5, 4], (10 - a).ToArray<float>());
        Assert.Equal([1f, 4, 9, 16, 25, 36], a.Pow(2).ToArray<float>());
        Assert.Equal(21, a.Sum().ToDouble());
        Assert.Equal([2f, 5], a.Mean(1).ToArray<float>());
        Assert.Equal([2L, 2], a.ArgMax(1).ToArray<long>());
    }

    [Fact]
    public void Matmul_and_addmm_match_hand_computed_products()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.From<float>([1, 2, 3, 4], 2, 2);
        var b = Tensor.From<float>([5, 6, 7, 8], 2, 2);
        Assert.Equal([19f, 22, 43, 50], a.MatMul(b).ToArray<float>());
        var bias = Tensor.From<float>([1, -1], 2);
        Assert.Equal([20f, 21, 44, 49], Tensor.AddMm(bias, a, b).ToArray<float>());
        // Conv1D layout: x (1, 2) @ W [in 2, out 2] + bias.
        Assert.Equal([20f, 21, 44, 49], Conv1D(a, b, bias).ToArray<float>());
    }

    [Fact]
    public void Layer_norm_normalises_the_last_dimension()
    {
        using var scope = DisposeScope.Enter();
        float[] x = [1, 2, 3, 4, 10, 20, 30, 40];
        var y = LayerNorm(Tensor.From<float>(x, 2, 4), Tensor.From<float>([1, 1, 2, 2], 4), Tensor.From<float>([0, 0, 0, 1], 4), 1e-5).ToArray<float>();
        for (int row = 0; row < 2; row++)
        {
            var r = x.AsSpan(row * 4, 4).ToArray();
            double mean = r.Average(), variance = r.Select(v => (v - mean) * (v - mean)).Average();
            double[] gamma = [1, 1, 2, 2], beta = [0, 0, 0, 1];
            for (int i = 0; i < 4; i++)
                Near((r[i] - mean) / Math.Sqrt(variance + 1e-5) * gamma[i] + beta[i], y[row * 4 + i], 1e-4);
        }
    }

    [Fact]
    public void Gelu_tanh_is_GPT2s_gelu_new_formula()
    {
        using var scope = DisposeScope.Enter();
        float[] x = [-3, -1, -0.5f, 0, 0.5f, 1, 3];
        var y = Gelu(Tensor.From<float>(x, x.Length)).ToArray<float>();
        for (int i = 0; i < x.Length; i++)
            Near(0.5 * x[i] * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x[i] + 0.044715 * Math.Pow(x[i], 3)))), y[i]);
    }

    [Fact]
    public void Softmax_and_log_softmax_follow_their_definitions()
    {
        using var scope = DisposeScope.Enter();
        float[] x = [1, 2, 3, -1000];
        var t = Tensor.From<float>(x, 4);
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Near([(float)(Math.Exp(1) / z), (float)(Math.Exp(2) / z), (float)(Math.Exp(3) / z), 0], Softmax(t, 0).ToArray<float>());
        var logs = LogSoftmax(t, 0).ToArray<float>();
        Near(1 - Math.Log(z), logs[0]);
        Near(3 - Math.Log(z), logs[2]);
    }

    [Fact]
    public void Causal_attention_matches_the_explicit_formula_computed_in_CSharp()
    {
        using var scope = DisposeScope.Enter();
        const int T = 4, D = 3;
        var random = new Random(7);
        float[] Fill() => Enumerable.Range(0, T * D).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] q = Fill(), k = Fill(), v = Fill();
        var y = CausalAttention(Tensor.From<float>(q, 1, 1, T, D), Tensor.From<float>(k, 1, 1, T, D), Tensor.From<float>(v, 1, 1, T, D)).ToArray<float>();
        for (int i = 0; i < T; i++)
        {
            var scores = Enumerable.Range(0, i + 1).Select(j => Enumerable.Range(0, D).Sum(d => q[i * D + d] * k[j * D + d]) / Math.Sqrt(D)).ToArray();
            double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
            for (int d = 0; d < D; d++)
                Near(Enumerable.Range(0, i + 1).Sum(j => Math.Exp(scores[j] - max) / sum * v[j * D + d]), y[i * D + d]);
        }
    }

    [Fact]
    public void Attention_with_a_shorter_query_sees_every_earlier_key_and_padding_hides_keys()
    {
        using var scope = DisposeScope.Enter();
        // One query at the end of 3 keys attends to all 3; with the first key padded it ignores it.
        var q = Tensor.From<float>([0, 0], 1, 1, 1, 2);
        var k = Tensor.Zeros([1, 1, 3, 2]);
        var v = Tensor.From<float>([3, 0, 6, 0, 9, 0], 1, 1, 3, 2);
        Near(6, CausalAttention(q, k, v).ToArray<float>()[0]);
        var padding = Tensor.From<bool>([true, false, false], 1, 3);
        Near(7.5, CausalAttention(q, k, v, padding).ToArray<float>()[0]);
    }

    [Fact]
    public void Cross_entropy_averages_negative_log_likelihood_and_skips_ignored_targets()
    {
        using var scope = DisposeScope.Enter();
        float[] logits = [2, 1, 0, 0, 0, 0, 1, 2, 3];
        var loss = CrossEntropy(Tensor.From<float>(logits, 3, 3), Tensor.From<long>([0, -100, 2], 3), ignoreIndex: -100).ToDouble();
        double row0 = -(2 - Math.Log(Math.Exp(2) + Math.Exp(1) + 1));
        double row2 = -(3 - Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)));
        Near((row0 + row2) / 2, loss);
    }

    [Fact]
    public void Dropout_is_the_identity_in_eval_and_scales_survivors_in_training()
    {
        using var scope = DisposeScope.Enter();
        TorchRandom.Seed(1);
        var x = Tensor.Ones([10000]);
        Assert.Equal(x.ToArray<float>(), Dropout(x, 0.25, training: false).ToArray<float>());
        var y = Dropout(x, 0.25, training: true).ToArray<float>();
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75) < 1e-6));
        double dropped = y.Count(v => v == 0) / 10000.0;
        Assert.InRange(dropped, 0.22, 0.28);
    }

    [Fact]
    public void Embedding_picks_rows()
    {
        using var scope = DisposeScope.Enter();
        var weight = Tensor.From<float>([0, 1, 10, 11, 20, 21], 3, 2);
        Assert.Equal([20f, 21, 0, 1, 20, 21], Embedding(weight, Tensor.From<long>([2, 0, 2], 3)).ToArray<float>());
    }

    [Fact]
    public void Shape_operations_move_elements_as_defined()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Arange(0, 6).Reshape(2, 3);                       // [[0 1 2] [3 4 5]]
        Assert.Equal([0L, 3, 1, 4, 2, 5], a.Transpose(0, 1).Contiguous().ToArray<long>());
        Assert.Equal([3L, 2], a.Permute(1, 0).Shape);
        Assert.Equal([1L, 2, 4, 5], a.Narrow(1, 1, 2).Contiguous().ToArray<long>());
        Assert.Equal([3L, 4, 5], a.Select(0, 1).ToArray<long>());
        Assert.Equal([2L, 5], a.IndexSelect(1, Tensor.From<long>([2], 1)).Contiguous().ToArray<long>());
        var pieces = a.Split(2, 1);
        Assert.Equal(2, pieces.Length);
        Assert.Equal([2L, 1], pieces[1].Shape);
        Assert.Equal([0L, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5], Tensor.Cat([a, a], 0).ToArray<long>());
        Assert.Equal([2L, 2, 3], Tensor.Stack([a, a], 0).Shape);
        Assert.Equal([1L, 2, 3], a.Unsqueeze(0).Shape);
        Assert.Equal([6L], a.Flatten().Shape);
        Assert.Equal([3L, 1], a.Strides);
        Assert.Equal([1L, 3], a.Transpose(0, 1).Strides);
        Assert.False(a.Transpose(0, 1).IsContiguous);
        Assert.Equal([0f, 0, 0, 1, 0, 0, 1, 1, 0], Tensor.Ones([3, 3]).Tril(-1).ToArray<float>());
    }

    [Fact]
    public void TopK_argmax_and_multinomial_select_as_defined()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.From<float>([0.1f, 0.7f, 0.2f], 3);
        var (values, indices) = x.TopK(2);
        Near([0.7f, 0.2f], values.ToArray<float>());
        Assert.Equal([1L, 2], indices.ToArray<long>());
        Assert.Equal(1, x.ArgMax().ToInt64());
        var oneHot = Tensor.From<float>([0, 0, 1, 0], 4);
        Assert.Equal(2, oneHot.Multinomial(1).ToInt64());
    }

    [Fact]
    public void Supported_dtypes_convert_and_round_trip()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.From<float>([1.5f, -2, 0.25f], 3);
        Assert.Equal([1.5f, -2, 0.25f], x.To(ScalarType.Float16).To(ScalarType.Float32).ToArray<float>());
        Assert.Equal([1.5f, -2, 0.25f], x.To(ScalarType.BFloat16).To(ScalarType.Float32).ToArray<float>());
        Assert.Equal([1, -2, 0], x.To(ScalarType.Int32).ToArray<int>());
        Assert.Equal([true, true, true], x.To(ScalarType.Bool).ToArray<bool>());
        Assert.Equal([1L, -2, 0], x.To(ScalarType.Int64).ToArray<long>());
        Assert.Equal([(Half)1.5f, (Half)(-2f), (Half)0.25f], x.To(ScalarType.Float16).ToArray<Half>());
    }

    [Fact]
    public void In_place_updates_change_the_tensor_itself()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.From<float>([1, 2], 2);
        a.AddInPlace(Tensor.From<float>([10, 10], 2), alpha: 0.5);
        Assert.Equal([6f, 7], a.ToArray<float>());
        a.MulInPlace(2);
        Assert.Equal([12f, 14], a.ToArray<float>());
        a.DataSpan<float>()[0] = -1;
        Assert.Equal([-1f, 14], a.ToArray<float>());
        a.CopyFrom<float>([3, 4]);
        Assert.Equal([3f, 4], a.ToArray<float>());
    }

    [Fact]
    public void A_CUDA_device_without_CUDA_is_a_clear_error()
    {
        if (TorchLibrary.CudaDeviceCount > 0) return; // this check is about CPU-only libtorch builds
        using var x = Tensor.Ones([1]);
        var error = Assert.Throws<TorchException>(() => x.To(Device.Parse("cuda:0")));
        Assert.Contains("CUDA", error.Message);
        Assert.DoesNotContain("Exception raised from", error.Message); // no C++ backtrace
    }

    [Fact]
    public void A_libtorch_error_becomes_a_TorchException_with_libtorchs_message()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Ones([2, 3]);
        var error = Assert.Throws<TorchException>(() => a.MatMul(Tensor.Ones([2, 3])));
        Assert.Contains("cannot be multiplied", error.Message);
    }
}
