using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// GPT-2's tied wte, stored once and read twice: by the token lookup and by the LM head. Float (the
/// compute type) is a Gather and FusedMatMul (or Gemm) with transB; quantized, the table is
/// MatMulNBits' codes (V, blocks, block bytes) and GatherBlockQuantized looks rows up in the same bytes,
/// seen as (V, blocks · block bytes) through a Reshape, with the same scales and zero points.
/// At batch 1 a step reads the head in full and one row for the lookup, so quantizing it cuts most of a
/// step's weight traffic (wte is 39% of GPT-2 124M's weights).
/// </summary>
internal abstract class TiedEmbedding
{
    /// <summary>The table for this export: quantized when <see cref="ExportOptions.HeadBits"/> says so.</summary>
    public static TiedEmbedding Create(GraphBuilder g, Gpt2Checkpoint checkpoint, ExportOptions options,
                                       Func<string, string> floatWeight)
    {
        if (options.HeadBits is not int bits) return new Float(floatWeight("wte.weight"), options.ComputeType);
        var table = checkpoint.ReadFloat32("wte.weight");                                  // (V, C)
        int v = checkpoint.Config.VocabSize, c = checkpoint.Config.NEmbd;
        // MatMulNBits takes its weight as (N, K) = (V, C), wte's own layout: w(k, n) = wte[n, k].
        var q = QuantizedMatMul.Add(g, "wte.weight", c, v, options.BlockSize, bits, (k, n) => table[(long)n * c + k]);
        return new Quantized(q);
    }

    /// <summary>The token embeddings of input_ids: (B, S, C).</summary>
    public abstract string Lookup(GraphBuilder g);

    /// <summary>The logits output (B, K, V) of the kept final hidden states <paramref name="h"/> (B, K, C).</summary>
    public abstract void Head(GraphBuilder g, string h, Gpt2Config config);

    private sealed class Float(string wte, T type) : TiedEmbedding
    {
        public override string Lookup(GraphBuilder g) => g.Node("Gather", [wte, InputIds], "wte_gather");

        public override void Head(GraphBuilder g, string h, Gpt2Config config)
        {
            if (type != T.Float)
            {
                Gpt2GraphParts.TiedLmHead(g, h, wte, config, type);
                return;
            }
            // (B, K, C) × wteᵀ straight into logits (B, K, V): FusedMatMul transposes the table as it packs it.
            g.Nodes("FusedMatMul", [h, wte], "lm_head", 1, [Int("transB", 1)], "com.microsoft", [Logits]);
        }
    }

    private sealed class Quantized(QuantizedMatMul table) : TiedEmbedding
    {
        public override string Lookup(GraphBuilder g)
        {
            var q = table.Q;
            long rowBytes = (long)q.Blocks * q.BlockBytes, width = (long)q.Blocks * q.BlockSize;
            // (V, C·bits/8)
            var rows = g.Node("Reshape", [table.Codes, g.Int64s(false, table.N, rowBytes)], "wte.rows");
            var looked = g.ContribNode("GatherBlockQuantized", [rows, InputIds, table.Scales, table.ZeroPoints],
                "wte_gather", 1, Int("gather_axis", 0), Int("quantize_axis", 1), Int("block_size", q.BlockSize),
                Int("bits", q.Bits))[0];
            if (width == table.K) return looked;                                                 // (B, S, C)
            // n_embd not a multiple of the block size: the lookup returns the zero padding too; cut it off.
            return g.Node("Slice", [looked, g.Int64s(false, 0), g.Int64s(false, table.K), g.Int64s(false, 2)],
                          "wte_unpadded");
        }

        public override void Head(GraphBuilder g, string h, Gpt2Config config) => table.Apply(g, h, "lm_head", Logits);
    }
}
