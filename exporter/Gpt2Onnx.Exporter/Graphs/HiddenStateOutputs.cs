using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Onnx;
using static Gpt2Onnx.Core.Onnx.GraphNames;
using static Gpt2Onnx.Exporter.Onnx.GraphBuilder;
using T = Gpt2Onnx.Core.Onnx.TensorElementType;

namespace Gpt2Onnx.Exporter.Graphs;

/// <summary>
/// What <c>--with-hidden-states</c> adds to a portable fp32 graph: the residual stream before the first block
/// and after each block, hidden_states.0..L (B, S, C), and each one's logit lens, lens_logits.0..L (B, S, V):
/// the state through the final layer norm and the tied LM head, the way the model reads its last one (so
/// lens_logits.L holds the model's own logits). The normal outputs are unchanged.
/// </summary>
internal static class HiddenStateOutputs
{
    /// <summary>The portable graph's flat residual stream (B·S, C): the embeddings, then after each block.</summary>
    private static string Residual(int index) => index == 0 ? "embeddings_flat" : $"h.{index - 1}.residual_2";

    public static void Add(GraphBuilder g, Gpt2Config c)
    {
        if (c.IsGpt2Ml)
            throw new Gpt2OnnxException("--with-hidden-states reads each state through ln_f, and a GPT2_ML model has " +
                                        "none: export it without --with-hidden-states");
        var produced = g.Graph.Node.SelectMany(n => n.Output).ToHashSet();
        var shape = g.Node("Concat", [g.Node("Shape", [InputIds], "hidden_states.ids_shape"), g.Int64s(false, c.NEmbd)],
                           "hidden_states.shape", Int("axis", 0)); // [B, S, C]
        var lensShape = g.Node("Concat", [g.Node("Shape", [InputIds], "lens.ids_shape"), g.Int64s(false, c.VocabSize)],
                               "lens.shape", Int("axis", 0)); // [B, S, V]
        for (int i = 0; i <= c.NLayer; i++)
        {
            string residual = Residual(i);
            if (!produced.Contains(residual))
                throw new InvalidOperationException($"the portable graph has no residual stream named {residual}");
            // (B, S, C)
            g.Nodes("Reshape", [residual, shape], HiddenState(i), 1, [], outputNames: [HiddenState(i)]);
            var normed = Gpt2GraphParts.LayerNorm(g, residual, "ln_f.weight", "ln_f.bias", c.LayerNormEpsilon,
                                                  $"lens.{i}.ln_f"); // (B·S, C)
            var logits = g.Node("Gemm", [normed, "wte.weight"], $"lens.{i}.lm_head", Int("transB", 1));     // (B·S, V)
            g.Nodes("Reshape", [logits, lensShape], LensLogits(i), 1, [], outputNames: [LensLogits(i)]);    // (B, S, V)
            g.Output(HiddenState(i), T.Float, "batch_size", "sequence_length", c.NEmbd);
            g.Output(LensLogits(i), T.Float, "batch_size", "sequence_length", c.VocabSize);
        }
    }
}
