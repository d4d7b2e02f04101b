using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>The parts both graph variants build the same way: embeddings, the tied LM head, and the outputs.</summary>
internal static class Gpt2GraphParts
{
    /// <summary>
    /// The contract's inputs: input_ids and position_ids (B, S), attention_mask (B, T), and each layer's past
    /// key and value (B, nh, <paramref name="pastLength"/>, hs) of <paramref name="type"/>.
    /// </summary>
    public static void Inputs(GraphBuilder g, Gpt2Config c, string pastLength, T type)
    {
        g.Input(InputIds, T.Int64, "batch_size", "sequence_length");
        g.Input(AttentionMask, T.Int64, "batch_size", "total_sequence_length");
        g.Input(PositionIds, T.Int64, "batch_size", "sequence_length");
        for (int i = 0; i < c.NLayer; i++)
        {
            g.Input(PastKey(i), type, "batch_size", c.NHead, pastLength, c.HeadSize);
            g.Input(PastValue(i), type, "batch_size", c.NHead, pastLength, c.HeadSize);
        }
    }

    /// <summary>wte[input_ids] + wpe[position_ids]: (B, S, C).</summary>
    public static string Embeddings(GraphBuilder g, string wte, string wpe) =>
        g.Node("Add", [g.Node("Gather", [wte, InputIds], "wte_gather"),
                       g.Node("Gather", [wpe, PositionIds], "wpe_gather")], "embeddings");

    /// <summary>
    /// (B, S), input_ids' shape. Both graphs keep the residual stream flat, (B·S, C), so that each
    /// projection is one Gemm with its bias; the operators that need the batch and positions apart
    /// (attention, the kept positions) get them back from this.
    /// </summary>
    public static string BatchAndLength(GraphBuilder g) => g.Node("Shape", [InputIds], "ids_shape");

    /// <summary>The embeddings flat: (B·S, C).</summary>
    public static string FlatEmbeddings(GraphBuilder g, string wte, string wpe, long width) =>
        g.Node("Reshape", [Embeddings(g, wte, wpe), g.Int64s(false, -1, width)], "embeddings_flat");

    /// <summary>Looked-up token embeddings (B, S, C) + wpe[position_ids], flat: (B·S, C).</summary>
    public static string FlatEmbeddingsWithPositions(GraphBuilder g, string tokens, string wpe, long width)
    {
        var sum = g.Node("Add", [tokens, g.Node("Gather", [wpe, PositionIds], "wpe_gather")], "embeddings");
        return g.Node("Reshape", [sum, g.Int64s(false, -1, width)], "embeddings_flat");
    }

    /// <summary>Flat hidden states (B·S, C) back to (B, S, C).</summary>
    public static string Unflatten(GraphBuilder g, string x, string batchAndLength, long width) =>
        g.Node("Reshape", [x, g.Node("Concat", [batchAndLength, g.Int64s(false, width)], "hidden_shape",
                                     Int("axis", 0))], "hidden_3d");

    /// <summary>x @ W + b for flat x (rows, in), with W in GPT-2's Conv1D layout [in, out]: one Gemm.</summary>
    public static string Linear(GraphBuilder g, string x, string weight, string bias, string name) =>
        g.Node("Gemm", [x, weight, bias], name);

    public static string LayerNorm(GraphBuilder g, string x, string weight, string bias, double eps, string name) =>
        g.Node("LayerNormalization", [x, weight, bias], name, Int("axis", -1), FloatAttribute("epsilon", (float)eps));

    /// <summary>
    /// The final hidden states (B, S, C) of the last logits_to_keep positions only, (B, K, C): an optional
    /// input whose default 0 keeps them all, so a reader that does not know it gets every position's logits.
    /// A prefill that only samples the next token asks for 1 and skips the LM head for the rest.
    /// </summary>
    public static string KeptPositions(GraphBuilder g, string x)
    {
        var keep = g.OptionalScalarInput(LogitsToKeep, 0);
        var start = g.Node("Neg", [g.Node("Unsqueeze", [keep, g.Int64s(false, 0)], "logits_to_keep_1d")], "kept_start");
        return g.Node("Slice", [x, start, g.Int64s(false, long.MaxValue), g.Int64s(false, 1)], "kept_positions");
    }

    /// <summary>
    /// The LM head tied to wte: (B*S, C) × wteᵀ with Gemm's transB, so the table is neither copied nor
    /// transposed; cast to float when the graph computes in float16; reshaped to logits (B, K, V).
    /// </summary>
    public static void TiedLmHead(GraphBuilder g, string x, string wte, Gpt2Config c, T type)
    {
        var flat = g.Node("Reshape", [x, g.Int64s(false, -1, c.NEmbd)], "lm_head.flatten");
        var logits = g.Cast(g.Node("Gemm", [flat, wte], "lm_head", Int("transB", 1)), type, T.Float, "lm_head.float");
        var outShape = g.Node("Concat",
                              [g.Node("Shape", [x], "kept_shape", Int("end", 2)), g.Int64s(false, c.VocabSize)],
                              "logits_shape", Int("axis", 0));
        g.Node("Reshape", [logits, outShape], Logits);
    }

    /// <summary>logits (B, K, V, float) and each layer's present key and value (B, nh, <paramref name="cacheLength"/>,
    /// hs) of <paramref name="type"/>.</summary>
    public static void Outputs(GraphBuilder g, Gpt2Config c, string cacheLength, T type)
    {
        g.Output(Logits, T.Float, "batch_size", "kept_sequence_length", c.VocabSize);
        for (int i = 0; i < c.NLayer; i++)
        {
            g.Output(PresentKey(i), type, "batch_size", c.NHead, cacheLength, c.HeadSize);
            g.Output(PresentValue(i), type, "batch_size", c.NHead, cacheLength, c.HeadSize);
        }
    }
}
