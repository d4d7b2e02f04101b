using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>The neural-network operations GPT-2 needs (ops_nn.cpp), as torch.nn.functional names them.</summary>
public static class Functional
{
    public static Tensor Embedding(Tensor weight, Tensor indices) => new(g2t_embedding(weight.Handle, indices.Handle));

    /// <summary>x @ weight + bias with weight in GPT-2's Conv1D layout [in, out] (bias may be null).</summary>
    public static Tensor Conv1D(Tensor x, Tensor weight, Tensor? bias) =>
        new(g2t_conv1d_linear(x.Handle, weight.Handle, bias?.Handle ?? IntPtr.Zero));

    /// <summary>x @ weightᵀ + bias with weight in torch.nn.Linear's layout [out, in] (bias may be null).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        new(g2t_linear(x.Handle, weight.Handle, bias?.Handle ?? IntPtr.Zero));

    /// <summary>Layer normalisation over the last dimension.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor weight, Tensor bias, double eps) =>
        new(g2t_layer_norm(x.Handle, weight.Handle, bias.Handle, eps));

    /// <summary>GELU; <paramref name="tanhApproximation"/> is GPT-2's gelu_new.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = true) => new(g2t_gelu(x.Handle, tanhApproximation ? 1 : 0));

    public static Tensor Softmax(Tensor x, long dim) => new(g2t_softmax(x.Handle, dim));
    public static Tensor LogSoftmax(Tensor x, long dim) => new(g2t_log_softmax(x.Handle, dim));

    /// <summary>Zeroes elements with probability p and scales the rest by 1/(1-p) when training; identity otherwise.</summary>
    public static Tensor Dropout(Tensor x, double p, bool training) => new(g2t_dropout(x.Handle, p, training ? 1 : 0));

    /// <summary>Mean cross entropy of logits (N, V) against targets (N), skipping targets equal to <paramref name="ignoreIndex"/>.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex = -100) =>
        new(g2t_cross_entropy(logits.Handle, targets.Handle, ignoreIndex));

    /// <summary>
    /// Causal self-attention of q, k, v (B, nh, T, hs): libtorch's fused kernel where it has one (2.0+), the
    /// explicit softmax(q kᵀ/√hs + causal mask) v otherwise. <paramref name="keyPadding"/> (bool, B × T_k, true
    /// at padding) may be null; <paramref name="dropout"/> applies to the attention weights.
    /// </summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, Tensor? keyPadding = null, double dropout = 0) =>
        new(g2t_causal_attention(q.Handle, k.Handle, v.Handle, keyPadding?.Handle ?? IntPtr.Zero, dropout));

    /// <summary>Whether <see cref="CausalAttention"/> runs libtorch's fused kernel.</summary>
    public static bool HasFusedAttention => g2t_has_fused_attention() == 1;
}
