namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// Which layer norm sits where, by name, so that one forward pass serves both blocks: GPT-2 norms the
/// attention's input (ln_1), the MLP's input (ln_2) and the final hidden state (ln_f); GPT2_ML norms the
/// embeddings (ln_emb), the MLP's input (ln_1) and each block's output (ln_2), as <see cref="Gpt2MlLayout"/>
/// says. A null name is a place without a norm. Per-block names are relative to the block ("h.{i}.").
/// </summary>
public sealed record NormPlacement(string? Embeddings, string? Attention, string Mlp, string? Output, string? Final)
{
    public static readonly NormPlacement Gpt2 = new(null, "ln_1", "ln_2", null, "ln_f");
    public static readonly NormPlacement Gpt2Ml = new(Gpt2MlLayout.EmbeddingNorm, null, "ln_1", "ln_2", null);

    public static NormPlacement For(Gpt2Config config) => config.IsGpt2Ml ? Gpt2Ml : Gpt2;
}
