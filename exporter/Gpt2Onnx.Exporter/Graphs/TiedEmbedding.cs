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
/// step's weight traffic (wte is 39% of GPT-2 124M's weights). An int4 head keeps the rows of the first ids
/// at 8 bits (<see cref="ExportOptions.HeadInt8Rows"/>): tokenizers number tokens in frequency order, and the
/// frequent tokens are the ones whose logits most often decide the top token.
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
        // MatMulNBits takes its weight as (N, K) = (rows, C), wte's own layout: w(k, n) = wte[first + n, k].
        QuantizedMatMul Rows(string name, int first, int count, int rowBits) =>
            QuantizedMatMul.Add(g, name, c, count, options.BlockSize, rowBits,
                                (k, n) => table[(long)(first + n) * c + k]);
        int frequent = options.HeadInt8RowsOf(v);
        if (frequent == 0) return new Quantized(Rows("wte.weight", 0, v, bits));
        if (frequent == v) return new Quantized(Rows("wte.weight", 0, v, 8));
        return new SplitQuantized(Rows("wte.weight.frequent", 0, frequent, 8),
                                  Rows("wte.weight", frequent, v - frequent, bits));
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
        public override string Lookup(GraphBuilder g) => Unpadded(g, Gather(g, table, InputIds, "wte_gather"), table);

        public override void Head(GraphBuilder g, string h, Gpt2Config config) => table.Apply(g, h, "lm_head", Logits);
    }

    /// <summary>
    /// The rows of ids 0 to F-1 at 8 bits, the others at the head's 4: two MatMulNBits whose logits are
    /// concatenated in id order, and a lookup that reads each id's row from the table that holds it.
    /// </summary>
    private sealed class SplitQuantized(QuantizedMatMul frequent, QuantizedMatMul rest) : TiedEmbedding
    {
        public override string Lookup(GraphBuilder g)
        {
            long f = frequent.N;
            var inFrequent = g.Node("Less", [InputIds, g.Int64s(true, f)], "wte.is_frequent");
            var frequentRow = g.Node("Min", [InputIds, g.Int64s(true, f - 1)], "wte.frequent_row");
            var restRow = g.Node("Max", [g.Node("Sub", [InputIds, g.Int64s(true, f)], "wte.rest_offset"),
                                         g.Int64s(true, 0)], "wte.rest_row");
            var rows = g.Node("Where", [g.Node("Unsqueeze", [inFrequent, g.Int64s(false, -1)], "wte.is_frequent_3d"),
                                        Gather(g, frequent, frequentRow, "wte_gather_frequent"),
                                        Gather(g, rest, restRow, "wte_gather")], "wte_rows");
            return Unpadded(g, rows, rest);
        }

        public override void Head(GraphBuilder g, string h, Gpt2Config config) =>
            g.Nodes("Concat", [frequent.Apply(g, h, "lm_head.frequent"), rest.Apply(g, h, "lm_head.rest")], "lm_head",
                    1, [Int("axis", -1)], outputNames: [Logits]);
    }

    /// <summary>GatherBlockQuantized of <paramref name="ids"/>' rows (B, S, blocks · block size).</summary>
    private static string Gather(GraphBuilder g, QuantizedMatMul table, string ids, string name)
    {
        var q = table.Q;
        // The codes (N, blocks, block bytes) seen as (N, C·bits/8): the same bytes MatMulNBits reads.
        var rows = g.Node("Reshape", [table.Codes, g.Int64s(false, table.N, (long)q.Blocks * q.BlockBytes)],
                          table.Codes + ".rows");
        return g.ContribNode("GatherBlockQuantized", [rows, ids, table.Scales, table.ZeroPoints], name, 1,
                             Int("gather_axis", 0), Int("quantize_axis", 1), Int("block_size", q.BlockSize),
                             Int("bits", q.Bits))[0];
    }

    /// <summary>Looked-up rows without the zero padding a width that is not a multiple of the block size has.</summary>
    private static string Unpadded(GraphBuilder g, string rows, QuantizedMatMul table)
    {
        if ((long)table.Q.Blocks * table.Q.BlockSize == table.K) return rows;                   // (B, S, C)
        return g.Node("Slice", [rows, g.Int64s(false, 0), g.Int64s(false, table.K), g.Int64s(false, 2)],
                      "wte_unpadded");
    }
}
