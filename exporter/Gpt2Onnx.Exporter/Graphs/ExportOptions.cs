using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Exporter.Graphs;

public enum GraphVariant
{
    /// <summary>Standard ONNX (IR 8, opset 17): runs in any ONNX runtime.</summary>
    Portable,
    /// <summary>ONNX Runtime's contrib operators (attention with a shared KV buffer, fused norms,
    /// MatMulNBits).</summary>
    Fused,
}

public enum Precision { Fp32, Fp16, Int8, Int4 }

/// <summary>How the tied embedding and LM head (wte) is stored in an int4 or int8 export.</summary>
public enum HeadPrecision { Int4, Int8, Fp32 }

/// <summary>What <c>gpt2-export</c> builds.</summary>
public sealed record ExportOptions
{
    public GraphVariant Variant { get; init; } = GraphVariant.Portable;
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>
    /// The tied embedding and LM head of an int4 or int8 export: quantized (read by MatMulNBits and
    /// GatherBlockQuantized from one copy) or kept float. Null: as many bits as the blocks.
    /// </summary>
    public HeadPrecision? Head { get; init; }
    /// <summary>Weights per scale in int4 and int8 quantization (a power of two, at least 16).</summary>
    public int BlockSize { get; init; } = 32;
    /// <summary>Store weights in model.onnx.data even when the model is under 2 GB.</summary>
    public bool ExternalData { get; init; }
    /// <summary>
    /// Add each layer's residual stream and its logit lens as outputs (a portable graph for analysis).
    /// </summary>
    public bool WithHiddenStates { get; init; }
    /// <summary>Replace an existing output folder.</summary>
    public bool Force { get; init; }

    /// <summary>The type of the weights, activations and cache: float16 for fp16, float otherwise (int4 quantizes
    /// weights only). Logits are always float.</summary>
    public TensorElementType ComputeType =>
        Precision == Precision.Fp16 ? TensorElementType.Float16 : TensorElementType.Float;

    /// <summary>Bits per weight of the blocks' projections: 4 or 8, or null when they are not quantized.</summary>
    public int? WeightBits => Precision switch { Precision.Int4 => 4, Precision.Int8 => 8, _ => null };

    /// <summary>Bits per weight of the tied embedding and LM head, or null when it is float.</summary>
    public int? HeadBits => WeightBits == null ? null : (Head ?? DefaultHead) switch
    {
        HeadPrecision.Int4 => 4,
        HeadPrecision.Int8 => 8,
        _ => null,
    };

    private HeadPrecision DefaultHead => WeightBits == 4 ? HeadPrecision.Int4 : HeadPrecision.Int8;

    public ExportOptions Validate()
    {
        if (BlockSize < 16 || (BlockSize & (BlockSize - 1)) != 0)
            throw new Gpt2OnnxException($"--block-size must be a power of two of at least 16, not {BlockSize}");
        string precision = Precision.ToString().ToLowerInvariant();
        if (WeightBits != null && Variant == GraphVariant.Portable)
            throw new Gpt2OnnxException(
                $"{precision} needs --variant fused: its MatMulNBits operator is ONNX Runtime's, not standard ONNX");
        if (Head != null && WeightBits == null)
            throw new Gpt2OnnxException($"--head-precision is for --precision int4 or int8; a {precision} export " +
                                        $"keeps its head {precision}: leave the flag out, or export with --precision " +
                                        "int4");
        if (WithHiddenStates && (Variant != GraphVariant.Portable || Precision != Precision.Fp32))
            throw new Gpt2OnnxException("--with-hidden-states exports a portable fp32 graph: " +
                                        "drop --variant and --precision");
        return this;
    }
}
