using Gpt2Onnx.Exporter.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// GPT2_ML's (Grover's) block, <see cref="Gpt2MlLayout"/>: attention reads the residual stream unnormed,
/// the MLP reads ln_1 of it, and ln_2 norms the sum that leaves the block. Its modules carry the same names
/// as <see cref="Gpt2Block"/>'s, so a checkpoint of either is the same list of tensors but for ln_emb and ln_f.
/// </summary>
public sealed class Gpt2MlBlock : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly LayerNorm ln_1;
    private readonly CausalSelfAttention attn;
    private readonly LayerNorm ln_2;
    private readonly Mlp mlp;
    private readonly double _residualDropout;

    public Gpt2MlBlock(Gpt2Config config) : base(nameof(Gpt2MlBlock))
    {
        ln_1 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        attn = new CausalSelfAttention(config);
        ln_2 = nn.LayerNorm(config.NEmbd, config.LayerNormEpsilon);
        mlp = new Mlp(config);
        _residualDropout = config.ResidPdrop;
        RegisterComponents();
    }

    /// <summary>x (B, T, C), the fp32 residual stream, → (B, T, C), normed by ln_2.</summary>
    public override Tensor forward(Tensor x, Tensor? keyPadding)
    {
        x = x + F.dropout(attn.forward(x, keyPadding), _residualDropout, training).to_type(x.dtype);
        var mlpOut = F.dropout(mlp.forward(ln_1.forward(x)), _residualDropout, training).to_type(x.dtype);
        return ln_2.forward(x + mlpOut);
    }

    /// <summary>The block a config asks for: GPT-2's, or GPT2_ML's.</summary>
    public static nn.Module<Tensor, Tensor?, Tensor> For(Gpt2Config config) =>
        config.IsGpt2Ml ? new Gpt2MlBlock(config) : new Gpt2Block(config);
}
