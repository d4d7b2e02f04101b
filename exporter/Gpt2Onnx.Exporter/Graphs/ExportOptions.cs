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
    /// <summary>
    /// With an int4 head: how many rows of the table, from id 0, stay 8-bit. Tokenizers number their tokens in
    /// frequency order (BPE by merge rank, WordPiece vocabularies as trained), so these are the most frequent
    /// tokens, the ones whose logits most often decide the top token. Null: a 32nd of the vocabulary.
    /// </summary>
    public int? HeadInt8Rows { get; init; }
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

    /// <summary>The rows <see cref="HeadInt8Rows"/> keeps 8-bit in a vocabulary of <paramref name="vocab"/>: 0
    /// unless the head is int4, and at most all of them.</summary>
    public int HeadInt8RowsOf(int vocab) => HeadBits == 4 ? Math.Min(vocab, HeadInt8Rows ?? vocab / 32) : 0;

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
        if (HeadInt8Rows < 0)
            throw new Gpt2OnnxException($"--head-int8-rows is a count of rows, 0 or more, not {HeadInt8Rows}");
        if (HeadInt8Rows != null && HeadBits != 4)
        {
            string head = HeadBits is int bits ? $"int{bits}" : WeightBits == null ? precision : "fp32";
            throw new Gpt2OnnxException("--head-int8-rows is for an int4 head (--precision int4); this export's " +
                                        $"head is {head}: leave the flag out");
        }
        if (WithHiddenStates && (Variant != GraphVariant.Portable || Precision != Precision.Fp32))
            throw new Gpt2OnnxException("--with-hidden-states exports a portable fp32 graph: " +
                                        "drop --variant and --precision");
        return this;
    }
}
