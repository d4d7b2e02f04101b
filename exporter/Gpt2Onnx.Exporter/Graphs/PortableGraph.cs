using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using static Gpt2Onnx.Exporter.Graphs.Gpt2GraphParts;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// GPT-2 with a key/value cache in standard ONNX (opset 17), as the contract in docs/architecture.md says:
/// inputs input_ids (B, S), attention_mask (B, P+S), position_ids (B, S) and each layer's past key and
/// value (B, nh, P, hs); outputs logits (B, S, V) and each layer's present key and value (B, nh, P+S, hs).
/// Padding and causality both come from one additive mask built from attention_mask; wte is stored once
/// and serves the embedding (Gather) and the LM head (Gemm with transB). In fp16 the weights, activations
/// and cache are float16; the attention scores are masked and normalised in float (float16's lowest value
/// would overflow to -inf under the mask), and the logits are cast to float.
/// </summary>
internal static class PortableGraph
{
    public static GraphBuilder Build(Gpt2Checkpoint checkpoint, ExportOptions options)
    {
        var c = checkpoint.Config;
        var F = options.ComputeType;
        var g = new GraphBuilder();
        long C = c.NEmbd, nh = c.NHead, hs = c.HeadSize;

        Gpt2GraphParts.Inputs(g, c, "past_sequence_length", F);

        string W(string name) => g.Initializer(name, F, checkpoint.Info(name).Shape, checkpoint.ReadBytes(name, F));

        var batchAndLength = Gpt2GraphParts.BatchAndLength(g);
        string wte = W("wte.weight");
        var norms = NormPlacement.For(c);
        string Norm(string x, string name) =>
            LayerNorm(g, x, W(name + ".weight"), W(name + ".bias"), c.LayerNormEpsilon, name);
        var x = Gpt2GraphParts.FlatEmbeddings(g, wte, W("wpe.weight"), C);                                   // (B·S, C)
        if (norms.Embeddings is { } embeddingNorm) x = Norm(x, embeddingNorm);
        var headsShape = g.Node("Concat", [batchAndLength, g.Int64s(false, 3 * nh, hs)], "qkv_heads_shape",
                                Int("axis", 0));

        string bias = AttentionBias(g, batchAndLength);
        for (int i = 0; i < c.NLayer; i++)
        {
            string p = $"h.{i}.";
            var h = norms.Attention is { } attentionNorm ? Norm(x, p + attentionNorm) : x;
            // (B·S, 3C)
            var qkv = Linear(g, h, W(p + "attn.c_attn.weight"), W(p + "attn.c_attn.bias"), p + "attn.c_attn");
            // (B, 3nh, S, hs)
            var heads = g.Node("Transpose", [g.Node("Reshape", [qkv, headsShape], p + "attn.qkv_heads")],
                               p + "attn.qkv", Ints("perm", 0, 2, 1, 3));
            var parts = g.Nodes("Split", [heads, g.Int64s(false, nh, nh, nh)], p + "attn.split", 3, [Int("axis", 1)]);
            var q = parts[0];  // (B, nh, S, hs)
            // The concatenations are the presents themselves: no copy into separate outputs.
            var k = g.Node("Concat", [PastKey(i), parts[1]], PresentKey(i), Int("axis", 2));  // (B, nh, T, hs)
            var v = g.Node("Concat", [PastValue(i), parts[2]], PresentValue(i), Int("axis", 2));
            // (B, nh, S, T)
            var scores = g.Node("MatMul", [q, g.Node("Transpose", [k], p + "attn.kT", Ints("perm", 0, 1, 3, 2))],
                                p + "attn.scores");
            scores = g.Cast(scores, F, T.Float, p + "attn.scores_float");
            scores = g.Node("Add", [g.Node("Mul", [scores, g.Float((float)(1.0 / Math.Sqrt(hs)))], p + "attn.scaled"),
                                    bias], p + "attn.masked");
            var weights = g.Cast(g.Node("Softmax", [scores], p + "attn.softmax", Int("axis", -1)), T.Float, F,
                                 p + "attn.weights");
            var y = g.Node("MatMul", [weights, v], p + "attn.context");  // (B, nh, S, hs)
            // (B·S, C)
            y = g.Node("Reshape", [g.Node("Transpose", [y], p + "attn.merge", Ints("perm", 0, 2, 1, 3)),
                                   g.Int64s(false, -1, C)], p + "attn.merged");
            x = g.Node("Add", [x, Linear(g, y, W(p + "attn.c_proj.weight"), W(p + "attn.c_proj.bias"),
                                         p + "attn.c_proj")], p + "residual_1");

            h = Norm(x, p + norms.Mlp);
            // (B·S, 4C)
            h = Gelu(g, Linear(g, h, W(p + "mlp.c_fc.weight"), W(p + "mlp.c_fc.bias"), p + "mlp.c_fc"), c.TanhGelu, F,
                     p + "mlp.gelu");
            x = g.Node("Add", [x, Linear(g, h, W(p + "mlp.c_proj.weight"), W(p + "mlp.c_proj.bias"), p + "mlp.c_proj")],
                       p + "residual_2");
            if (norms.Output is { } outputNorm) x = Norm(x, p + outputNorm);
        }
        if (norms.Final is { } finalNorm) x = Norm(x, finalNorm);
        Gpt2GraphParts.TiedLmHead(g, Gpt2GraphParts.KeptPositions(g, Gpt2GraphParts.Unflatten(g, x, batchAndLength, C)),
                                  wte, c, F);
        Gpt2GraphParts.Outputs(g, c, "total_sequence_length", F);
        return g;
    }

    /// <summary>
    /// An additive mask (B, 1, S, T): 0 where query i (absolute position T-S+i) may see key j (j ≤ T-S+i and
    /// attention_mask[j] = 1), the lowest float elsewhere. The lowest finite value rather than -inf keeps a
    /// fully padded row finite (uniform weights) instead of NaN.
    /// </summary>
    private static string AttentionBias(GraphBuilder g, string batchAndLength)
    {
        var total = g.Node("Gather", [g.Node("Shape", [AttentionMask], "mask_shape"), g.Int64s(true, 1)],
                           "total_length", Int("axis", 0));
        var current = g.Node("Gather", [batchAndLength, g.Int64s(true, 1)], "current_length", Int("axis", 0));
        var past = g.Node("Sub", [total, current], "past_length");
        var queries = g.Node("Range", [past, total, g.Int64s(true, 1)], "query_positions");                 // (S)
        var keys = g.Node("Range", [g.Int64s(true, 0), total, g.Int64s(true, 1)], "key_positions");        // (T)
        var causal = g.Node("LessOrEqual", [g.Node("Unsqueeze", [keys, g.Int64s(false, 0)], "keys_row"),
                                            // (S, T)
                                            g.Node("Unsqueeze", [queries, g.Int64s(false, 1)], "queries_column")],
                                            "causal");
        // (B, 1, 1, T)
        var notPadded = g.Node("Cast", [g.Node("Unsqueeze", [AttentionMask, g.Int64s(false, 1, 2)], "mask_4d")],
                               "mask_bool", Int("to", (long)T.Bool));
        var allowed = g.Node("And", [causal, notPadded], "allowed");  // (B, 1, S, T)
        return g.Node("Where", [allowed, g.Float(0f), g.Float(float.MinValue)], "attention_bias");
    }

    /// <summary>
    /// gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); exact gelu: 0.5·x·(1 + erf(x/√2)). The cube is
    /// Pow(x, 3) and the nodes come in the order ONNX Runtime's optimiser recognises, so on its CPU it runs
    /// as one FastGelu kernel instead of nine (the graph itself stays standard ONNX).
    /// </summary>
    private static string Gelu(GraphBuilder g, string x, bool tanh, T type, string name)
    {
        string inner;
        if (tanh)
        {
            var cube = g.Node("Pow", [x, g.Float(3f, type)], name + "_x3");
            var sum = g.Node("Add", [x, g.Node("Mul", [cube, g.Float(0.044715f, type)], name + "_cubic")],
                             name + "_sum");
            inner = g.Node("Tanh", [g.Node("Mul", [sum, g.Float((float)Math.Sqrt(2 / Math.PI), type)],
                                           name + "_scaled")], name + "_tanh");
        }
        else
        {
            inner = g.Node("Erf", [g.Node("Mul", [x, g.Float((float)(1 / Math.Sqrt(2)), type)], name + "_scaled")],
                           name + "_erf");
        }
        var half = g.Node("Mul", [x, g.Float(0.5f, type)], name + "_half");
        return g.Node("Mul", [half, g.Node("Add", [inner, g.Float(1f, type)], name + "_plus1")], name);
    }
}
