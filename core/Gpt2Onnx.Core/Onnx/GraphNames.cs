namespace Gpt2Onnx.Core.Onnx;

/// <summary>
/// The names of the graph contract in docs/architecture.md, shared by the exporter and what reads its graphs.
/// </summary>
public static class GraphNames
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string PositionIds = "position_ids";
    public const string Logits = "logits";
    /// <summary>Optional (default 0, all): logits are computed for the last this many positions only; a prefill that
    /// samples needs 1.</summary>
    public const string LogitsToKeep = "logits_to_keep";
    public static string PastKey(int layer) => $"past_key_values.{layer}.key";
    public static string PastValue(int layer) => $"past_key_values.{layer}.value";
    public static string PresentKey(int layer) => $"present.{layer}.key";
    /// <summary>A --with-hidden-states export's residual stream (B, S, C): 0 the embeddings, i after block i.</summary>
    public static string HiddenState(int index) => $"hidden_states.{index}";
    /// <summary>Its logit lens (B, S, V): hidden state i through ln_f and the tied LM head.</summary>
    public static string LensLogits(int index) => $"lens_logits.{index}";
    public static string PresentValue(int layer) => $"present.{layer}.value";
}
