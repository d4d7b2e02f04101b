using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// GPT-2 built from ONNX Runtime's contrib operators: GroupQueryAttention (causal, packed QKV, with past
/// and present sharing one preallocated buffer of the maximum length), FastGelu, FusedMatMul for the fp32
/// LM head, and for int4 and int8 MatMulNBits (bias included); the tied table is <see cref="TiedEmbedding"/>'s.
/// The residual stream is flat, (B·S, C), as in the
/// portable graph: each projection is one Gemm with its bias, and the residual adds and LayerNorms are the
/// standard operators, which ONNX Runtime runs faster on the CPU than SkipLayerNormalization and FastGelu with
/// a bias (profiled: README, "Formats").
/// The inputs are the portable contract's, so onnxruntime-genai drives it as it drives its own GQA models;
/// what differs is declared in genai_config.json and the metadata: the past buffers are (B, nh,
/// max_sequence_length, hs), shared with the presents, and sequences are left-aligned (right padding).
/// GroupQueryAttention's seqlens_k (each row's total length - 1) and total_sequence_length are derived
/// from attention_mask in the graph. In fp16 the weights, activations and cache are float16 and the logits
/// are cast to float.
/// </summary>
internal static class FusedGraph
{
    public static GraphBuilder Build(Gpt2Checkpoint checkpoint, ExportOptions options)
    {
        var c = checkpoint.Config;
        var g = new GraphBuilder();
        long C = c.NEmbd, nh = c.NHead, hs = c.HeadSize;
        if (hs % 8 != 0) // ONNX Runtime's CPU kernel refuses it at the first run otherwise
            throw new Gpt2OnnxException("the fused graph's GroupQueryAttention needs a head size (n_embd / n_head) " +
                                        $"that is a multiple of 8, and this model's is {hs}: export it with " +
                                        "--variant portable");
        var F = options.ComputeType;

        Gpt2GraphParts.Inputs(g, c, "max_sequence_length", F);

        string W(string name) => g.Initializer(name, F, checkpoint.Info(name).Shape, checkpoint.ReadBytes(name, F));
        // x @ W + b for flat x (rows, in): Gemm, or MatMulNBits with its bias input.
        string Linear(string x, string layer, string name)
        {
            if (options.WeightBits is not int bits)
                return Gpt2GraphParts.Linear(g, x, W(layer + ".weight"), W(layer + ".bias"), name);
            var shape = checkpoint.Info(layer + ".weight").Shape; // Conv1D [in K, out N]
            var w = checkpoint.ReadFloat32(layer + ".weight");
            int k = (int)shape[0], n = (int)shape[1];
            var weight = QuantizedMatMul.Add(g, layer + ".weight", k, n, options.BlockSize, bits,
                                             (row, col) => w[(long)row * n + col]);
            return weight.Apply(g, x, name, bias: W(layer + ".bias"));
        }
        string LayerNorm(string x, string layer) =>
            Gpt2GraphParts.LayerNorm(g, x, W(layer + ".weight"), W(layer + ".bias"), c.LayerNormEpsilon, layer);

        var (seqLensK, totalLength) = AttentionLengths(g);
        var batchAndLength = Gpt2GraphParts.BatchAndLength(g);
        var packedShape = g.Node("Concat", [batchAndLength, g.Int64s(false, 3 * C)], "qkv_shape", Int("axis", 0));
        var wte = TiedEmbedding.Create(g, checkpoint, options, W);
        var norms = NormPlacement.For(c);
        // (B·S, C); GroupQueryAttention alone takes (B, S, ·)
        var x = Gpt2GraphParts.FlatEmbeddingsWithPositions(g, wte.Lookup(g), W("wpe.weight"), C);
        if (norms.Embeddings is { } embeddingNorm) x = LayerNorm(x, embeddingNorm);
        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"h.{i}.";
            var attentionInput = norms.Attention is { } attentionNorm ? LayerNorm(x, p + attentionNorm) : x;
            var qkvFlat = Linear(attentionInput, p + "attn.c_attn", p + "attn.c_attn");
            var qkv = g.Node("Reshape", [qkvFlat, packedShape], p + "attn.qkv"); // (B, S, 3C)
            // The presents are GQA's own outputs (no copy): bound to the same buffers as the pasts, the cache is
            // updated in place.
            var attention = g.Nodes("GroupQueryAttention",
                                    [qkv, "", "", PastKey(i), PastValue(i), seqLensK, totalLength], p + "attn", 3,
                [Int("num_heads", nh), Int("kv_num_heads", nh), FloatAttribute("scale", (float)(1.0 / Math.Sqrt(hs)))],
                "com.microsoft", [p + "attn", PresentKey(i), PresentValue(i)]);
            var merged = g.Node("Reshape", [attention[0], g.Int64s(false, -1, C)], p + "attn.merged");
            x = g.Node("Add", [x, Linear(merged, p + "attn.c_proj", p + "attn.c_proj")], p + "residual_1");
            var fc = Linear(LayerNorm(x, p + norms.Mlp), p + "mlp.c_fc", p + "mlp.c_fc");
            var activated = c.TanhGelu
                ? g.ContribNode("FastGelu", [fc], p + "mlp.gelu", 1)[0]
                : g.ContribNode("Gelu", [fc], p + "mlp.gelu", 1)[0];
            x = g.Node("Add", [x, Linear(activated, p + "mlp.c_proj", p + "mlp.c_proj")], p + "residual_2");
            if (norms.Output is { } outputNorm) x = LayerNorm(x, p + outputNorm);
        }
        if (norms.Final is { } finalNorm) x = LayerNorm(x, finalNorm);
        var h = Gpt2GraphParts.KeptPositions(g, Gpt2GraphParts.Unflatten(g, x, batchAndLength, C));
        wte.Head(g, h, c);
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
        var seqLensK = g.Node("Cast", [g.Node("Sub", [ones, g.Int64s(true, 1)], "seqlens_k_int64")], "seqlens_k",
                              Int("to", (long)T.Int32));
        var total = g.Node("Gather", [g.Node("Shape", [AttentionMask], "mask_shape"), g.Int64s(true, 1)],
                           "total_length", Int("axis", 0));
        return (seqLensK, g.Node("Cast", [total], "total_sequence_length", Int("to", (long)T.Int32)));
    }
}
