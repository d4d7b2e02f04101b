namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// GPT2_ML's model (imcaspar/gpt2-ml, Grover's code; bert4keras's GPT2_ML) in this project's names. It differs
/// from GPT-2 in where the layer norms sit: the embeddings are normed (ln_emb); attention reads the residual
/// stream unnormed; the MLP reads ln_1 of it; and ln_2 norms the block's output, residual included:
/// <code>
///   x = ln_emb(wte[ids] + wpe[pos])
///   a = x + attn(x)
///   x = ln_2(a + mlp(ln_1(a)))
/// </code>
/// There is no final norm (no ln_f): the last block's output meets the LM head, tied to wte. GELU is the
/// exact erf form and the norms' epsilon is 1e-5. Every other tensor keeps GPT-2's name and layout.
/// </summary>
public static class Gpt2MlLayout
{
    /// <summary>The embeddings' norm, GPT2_ML's newslm/embeddings/LayerNorm_embed_norm.</summary>
    public const string EmbeddingNorm = "ln_emb";
}
