using Gpt2Onnx.Core.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// Causal multi-head self-attention with GPT-2's fused q/k/v projection (c_attn) and output projection (c_proj).
/// </summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Conv1D c_attn;
    private readonly Conv1D c_proj;
    private readonly Gpt2Config _config;

    public CausalSelfAttention(Gpt2Config config) : base(nameof(CausalSelfAttention))
    {
        _config = config;
        c_attn = new Conv1D(config.NEmbd, 3L * config.NEmbd);
        c_proj = new Conv1D(config.NEmbd, config.NEmbd);
        RegisterComponents();
    }

    /// <summary>x (B, T, C) → (B, T, C); <paramref name="keyPadding"/> (bool, B × T, true at padding) may be null.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor? keyPadding)
    {
        long b = x.shape[0], t = x.shape[1], c = _config.NEmbd, nh = _config.NHead, hs = _config.HeadSize;
        var qkv = c_attn.forward(x).split(c, 2);                                     // 3 × (B, T, C)
        var q = qkv[0].view(b, t, nh, hs).transpose(1, 2);                          // (B, nh, T, hs)
        var k = qkv[1].view(b, t, nh, hs).transpose(1, 2);
        var v = qkv[2].view(b, t, nh, hs).transpose(1, 2);
        var y = Attend(q, k, v, keyPadding, training ? _config.AttnPdrop : 0);       // (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(b, t, c);                                      // (B, T, C)
        return c_proj.forward(y);
    }

    /// <summary>
    /// softmax(q kᵀ/√hs + causal mask) v for q (B, nh, T_q, hs) and k, v (B, nh, T_k, hs): query i, the i-th of the
    /// last T_q positions, sees the keys up to its own. Without padding this is libtorch's fused kernel.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor? keyPadding = null, double dropout = 0)
    {
        long tq = q.shape[^2], tk = k.shape[^2];
        if (keyPadding is null && tq == tk) return F.scaled_dot_product_attention(q, k, v, p: dropout, is_casual: true);
        var hidden = ones(tq, tk, ScalarType.Bool, q.device).triu(tk - tq + 1);     // (T_q, T_k), true = not seen
        if (keyPadding is not null) hidden = hidden.logical_or(keyPadding.view(keyPadding.shape[0], 1, 1, tk));
        // The lowest finite value rather than -inf: a padded query that sees no key then gets even weights instead
        // of NaN, which would reach real positions through 0 × NaN in the next layer.
        var mask = zeros(hidden.shape, q.dtype, q.device).masked_fill(hidden, LowestFinite(q.dtype));
        return F.scaled_dot_product_attention(q, k, v, mask, dropout);
    }

    private static double LowestFinite(ScalarType type) => type switch
    {
        ScalarType.Float64 => double.MinValue,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float16 => -65504,
        _ => float.MinValue,
    };
}

/// <summary>GPT-2's MLP: c_fc to the inner width, gelu (tanh approximation for gelu_new), c_proj back.</summary>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Conv1D c_fc;
    private readonly Conv1D c_proj;
    private readonly bool _tanhGelu;

    public Mlp(Gpt2Config config) : base(nameof(Mlp))
    {
        c_fc = new Conv1D(config.NEmbd, config.InnerSize);
        c_proj = new Conv1D(config.InnerSize, config.NEmbd);
        _tanhGelu = config.TanhGelu;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        c_proj.forward(F.gelu(c_fc.forward(x), _tanhGelu ? GELU.Approximate.tanh : GELU.Approximate.none));
}

/// <summary>
/// One transformer block. GPT-2's is pre-LayerNorm: x + attn(ln_1(x)), then x + mlp(ln_2(x)). GPT2_ML's
/// (Grover's, <see cref="Gpt2MlLayout"/>) attends to the unnormed stream, feeds ln_1 of it to the MLP, and ln_2 norms
/// the sum that leaves the block. Both carry the same module names, so their checkpoints list the same tensors.
/// Each branch has residual dropout.
/// </summary>
public sealed class Gpt2Block : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;
    private readonly double _residualDropout;
    private readonly bool _gpt2Ml;

    public Gpt2Block(Gpt2Config config) : base(nameof(Gpt2Block))
    {
        ln_1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config);
        ln_2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        mlp = new Mlp(config);
        _residualDropout = config.ResidPdrop;
        _gpt2Ml = config.IsGpt2Ml;
        RegisterComponents();
    }

    /// <summary>x (B, T, C), the fp32 residual stream, → (B, T, C); each branch's output is added back in fp32.
    /// </summary>
    public override Tensor forward(Tensor x, Tensor? keyPadding)
    {
        if (_gpt2Ml)
        {
            x = x + Residual(attn.forward(x, keyPadding), x);
            return ln_2.forward(x + Residual(mlp.forward(ln_1.forward(x)), x));
        }
        x = x + Residual(attn.forward(ln_1.forward(x), keyPadding), x);
        return x + Residual(mlp.forward(ln_2.forward(x)), x);
    }

    private Tensor Residual(Tensor branch, Tensor stream) =>
        F.dropout(branch, _residualDropout, training).to_type(stream.dtype);
}
