using System.Runtime.InteropServices;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using Gpt2Onnx.Runtime;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using static Gpt2Onnx.Runtime.Onnx.GraphNames;
using T = Gpt2Onnx.Runtime.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// GPT-2 built from ONNX Runtime's contrib operators: GroupQueryAttention (causal, packed QKV, with past
/// and present sharing one preallocated buffer of the maximum length), SkipLayerNormalization (residual
/// add, bias and LayerNorm in one), FastGelu with its bias, FusedMatMul for the fp32 LM head, and for int4
/// MatMulNBits. The inputs are the portable contract's, so onnxruntime-genai drives it as it drives its own
/// GQA models; what differs is declared in genai_config.json and the metadata: the past buffers are (B, nh, max_sequence_length, hs),
/// shared with the presents, and sequences are left-aligned (right padding). GroupQueryAttention's
/// seqlens_k (each row's total length - 1) and total_sequence_length are derived from attention_mask in
/// the graph. In fp16 the weights, activations and cache are float16 and the logits are cast to float.
/// </summary>
internal static class FusedGraph
{
    public static GraphBuilder Build(Gpt2Checkpoint checkpoint, ExportOptions options)
    {
        var c = checkpoint.Config;
        var g = new GraphBuilder();
        long C = c.NEmbd, nh = c.NHead, hs = c.HeadSize;
        bool int4 = options.Precision == Precision.Int4;
        var F = options.ComputeType;

        Gpt2GraphParts.Inputs(g, c, "max_sequence_length", F);

        string W(string name) => g.Initializer(name, F, checkpoint.Info(name).Shape, checkpoint.ReadBytes(name, F));
        // x @ W without the bias (a following operator adds it), as MatMul or MatMulNBits.
        string MatMul(string x, string weightName, string name)
        {
            if (!int4) return g.Node("MatMul", [x, W(weightName)], name);
            var shape = checkpoint.Info(weightName).Shape; // Conv1D [in K, out N]
            var w = checkpoint.ReadFloat32(weightName);
            int k = (int)shape[0], n = (int)shape[1];
            return MatMulNBits(g, x, weightName, k, n, options.BlockSize, (row, col) => w[(long)row * n + col], name);
        }

        var (seqLensK, totalLength) = AttentionLengths(g);
        string wte = W("wte.weight");
        var x = Gpt2GraphParts.Embeddings(g, wte, W("wpe.weight"));
        var h = g.Node("LayerNormalization", [x, W("h.0.ln_1.weight"), W("h.0.ln_1.bias")], "h.0.ln_1", Int("axis", -1), FloatAttribute("epsilon", (float)c.LayerNormEpsilon));
        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"h.{i}.";
            var qkv = g.Node("Add", [MatMul(h, p + "attn.c_attn.weight", p + "attn.c_attn_matmul"), W(p + "attn.c_attn.bias")], p + "attn.c_attn"); // (B, S, 3C)
            // The presents are GQA's own outputs (no copy): bound to the same buffers as the pasts, the cache is updated in place.
            var attention = g.Nodes("GroupQueryAttention", [qkv, "", "", PastKey(i), PastValue(i), seqLensK, totalLength], p + "attn", 3,
                [Int("num_heads", nh), Int("kv_num_heads", nh), FloatAttribute("scale", (float)(1.0 / Math.Sqrt(hs)))],
                "com.microsoft", [p + "attn", PresentKey(i), PresentValue(i)]);
            var projected = MatMul(attention[0], p + "attn.c_proj.weight", p + "attn.c_proj_matmul");
            // LayerNorm(x + projected + bias), and the new residual x + projected + bias as output 3.
            var ln2 = g.ContribNode("SkipLayerNormalization", [projected, x, W(p + "ln_2.weight"), W(p + "ln_2.bias"), W(p + "attn.c_proj.bias")],
                                    p + "ln_2", 4, FloatAttribute("epsilon", (float)c.LayerNormEpsilon));
            x = ln2[3];
            var fc = MatMul(ln2[0], p + "mlp.c_fc.weight", p + "mlp.c_fc_matmul");
            var activated = c.TanhGelu
                ? g.ContribNode("FastGelu", [fc, W(p + "mlp.c_fc.bias")], p + "mlp.gelu", 1)[0]
                : g.ContribNode("BiasGelu", [fc, W(p + "mlp.c_fc.bias")], p + "mlp.gelu", 1)[0];
            var down = MatMul(activated, p + "mlp.c_proj.weight", p + "mlp.c_proj_matmul");
            bool last = i == c.NLayer - 1;
            string next = last ? "ln_f" : $"h.{i + 1}.ln_1";
            var ln = g.ContribNode("SkipLayerNormalization", [down, x, W(next + ".weight"), W(next + ".bias"), W(p + "mlp.c_proj.bias")],
                                   next, 4, FloatAttribute("epsilon", (float)c.LayerNormEpsilon));
            h = ln[0];
            x = ln[3];
        }

        h = Gpt2GraphParts.KeptPositions(g, h);
        if (int4)
        {
            // The LM head quantized too: MatMulNBits takes its weight as [N, K], which is wte's own layout.
            var table = checkpoint.ReadFloat32("wte.weight");
            int v = c.VocabSize, k = c.NEmbd;
            MatMulNBits(g, h, "lm_head", k, v, options.BlockSize, (row, col) => table[(long)col * k + row], "lm_head", Logits);
        }
        else if (F == T.Float)
        {
            // (B, K, C) × wteᵀ straight into logits (B, K, V): FusedMatMul transposes the tied table as it packs it.
            g.Nodes("FusedMatMul", [h, wte], "lm_head", 1, [Int("transB", 1)], "com.microsoft", [Logits]);
        }
        else
        {
            Gpt2GraphParts.TiedLmHead(g, h, wte, c, F);
        }
        Gpt2GraphParts.Outputs(g, c, "max_sequence_length", F);
        return g;
    }

    /// <summary>
    /// GroupQueryAttention's lengths from attention_mask (B, T), ones then zeros per row: seqlens_k, each
    /// row's ones less one (int32, B), and total_sequence_length, T (int32 scalar).
    /// </summary>
    private static (string SeqLensK, string TotalLength) AttentionLengths(GraphBuilder g)
    {
        var ones = g.Node("ReduceSum", [AttentionMask, g.Int64s(false, 1)], "mask_row_sums", Int("keepdims", 0));
        var seqLensK = g.Node("Cast", [g.Node("Sub", [ones, g.Int64s(true, 1)], "seqlens_k_int64")], "seqlens_k", Int("to", (long)T.Int32));
        var total = g.Node("Gather", [g.Node("Shape", [AttentionMask], "mask_shape"), g.Int64s(true, 1)], "total_length", Int("axis", 0));
        return (seqLensK, g.Node("Cast", [total], "total_sequence_length", Int("to", (long)T.Int32)));
    }

    private static string MatMulNBits(GraphBuilder g, string x, string weightName, int k, int n, int blockSize, Func<int, int, float> weight, string name,
                                      string? outputName = null)
    {
        var q = Int4Quantizer.Quantize(k, n, blockSize, weight);
        var codes = g.Initializer(weightName + ".q4", T.UInt8, [n, q.Blocks, blockSize / 2], q.Codes);
        var scales = g.Initializer(weightName + ".scales", T.Float, [(long)n * q.Blocks], MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray());
        var zeros = g.Initializer(weightName + ".zero_points", T.UInt8, [q.ZeroPoints.Length], q.ZeroPoints);
        // accuracy_level 4: int8 activations inside the kernel, the fast CPU path.
        return g.Nodes("MatMulNBits", [x, codes, scales, zeros], name, 1,
            [Int("K", k), Int("N", n), Int("bits", 4), Int("block_size", blockSize), Int("accuracy_level", 4)],
            "com.microsoft", outputName == null ? null : [outputName])[0];
    }
}
