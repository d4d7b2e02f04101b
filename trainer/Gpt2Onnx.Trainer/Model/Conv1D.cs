using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Model;

/// <summary>
/// GPT-2's Conv1D: a linear layer whose weight is stored [in, out] (torch.nn.Linear stores [out, in]), so a
/// Hugging Face checkpoint's tensors load as they are. With a <see cref="ComputeType"/> (bf16) it casts the
/// input and the fp32 weights to it here, and the gradients flow back through the cast to the fp32 weights.
/// </summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;

    public Conv1D(long inFeatures, long outFeatures) : base(nameof(Conv1D))
    {
        weight = new Parameter(empty(inFeatures, outFeatures));
        bias = new Parameter(zeros(outFeatures));
        RegisterComponents();
    }

    /// <summary>The type to compute in; null computes in the weights' own type, with no cast.</summary>
    public ScalarType? ComputeType { get; set; }

    public Parameter Weight => weight;

    /// <summary>x (…, in) → (…, out).</summary>
    public override Tensor forward(Tensor x)
    {
        var shape = x.shape;
        shape[^1] = weight.shape[1];
        var flat = x.reshape(-1, weight.shape[0]);                                   // (N, in)
        if (ComputeType is not ScalarType type) return addmm(bias, flat, weight, 1, 1).view(shape); // (…, out)
        return addmm(bias.to_type(type), flat.to_type(type), weight.to_type(type), 1, 1).view(shape);
    }
}
