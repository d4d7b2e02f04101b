using Gpt2Onnx.Runtime;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Exporter.Graphs;

public enum GraphVariant
{
    /// <summary>Standard ONNX (IR 8, opset 17): runs in any ONNX runtime.</summary>
    Portable,
    /// <summary>ONNX Runtime's contrib operators (attention with a shared KV buffer, fused norms, MatMulNBits).</summary>
    Fused,
}

public enum Precision { Fp32, Fp16, Int4 }

/// <summary>What <c>gpt2-export</c> builds.</summary>
public sealed record ExportOptions
{
    public GraphVariant Variant { get; init; } = GraphVariant.Portable;
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>Weights per scale in int4 quantization (a power of two, at least 16).</summary>
    public int BlockSize { get; init; } = 32;
    /// <summary>Store weights in model.onnx.data even when the model is under 2 GB.</summary>
    public bool ExternalData { get; init; }
    /// <summary>
    /// Add each layer's residual stream and its logit lens as outputs (a portable graph for analysis).
    /// </summary>
    public bool WithHiddenStates { get; init; }
    /// <summary>Replace an existing output folder.</summary>
    public bool Force { get; init; }

    /// <summary>The type of the weights, activations and cache: float16 for fp16, float otherwise (int4 quantizes weights only). Logits are always float.</summary>
    public TensorElementType ComputeType => Precision == Precision.Fp16 ? TensorElementType.Float16 : TensorElementType.Float;

    public ExportOptions Validate()
    {
        if (BlockSize < 16 || (BlockSize & (BlockSize - 1)) != 0)
            throw new Gpt2OnnxException($"--block-size must be a power of two of at least 16, not {BlockSize}");
        if (Precision == Precision.Int4 && Variant == GraphVariant.Portable)
            throw new Gpt2OnnxException("int4 needs --variant fused: its MatMulNBits operator is ONNX Runtime's, not standard ONNX");
        if (WithHiddenStates && (Variant != GraphVariant.Portable || Precision != Precision.Fp32))
            throw new Gpt2OnnxException("--with-hidden-states exports a portable fp32 graph: " +
                                        "drop --variant and --precision");
        return this;
    }
}
