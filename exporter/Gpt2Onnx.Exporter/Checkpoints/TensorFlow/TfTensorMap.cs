using Gpt2Onnx.Core.Checkpoints;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// Where one of this project's tensors comes from in a TensorFlow checkpoint: one variable, taken as it is
/// (a leading 1 of OpenAI's Conv1D [1, in, out] dropped), or several concatenated along their last axis
/// (GPT2_ML's separate query, key and value projections into GPT-2's c_attn).
/// </summary>
public sealed record TfSource(string Name, string[] Parts)
{
    public static TfSource One(string name, string variable) => new(name, [variable]);
}

/// <summary>The TensorFlow variable names of OpenAI's GPT-2 (gpt-2's src/model.py) and of GPT2_ML.</summary>
public static class TfTensorMap
{
    /// <summary>OpenAI's scope: model/wte, model/h0/attn/c_attn/w, model/ln_f/g, ...</summary>
    public const string OpenAiScope = "model/";
    /// <summary>GPT2_ML's scope: newslm/embeddings/word_embed, newslm/layer00/query_layer/kernel, ...</summary>
    public const string Gpt2MlScope = "newslm/";

    /// <summary>OpenAI's names: norms' g and b are weight and bias; Conv1D w and b are weight and bias.</summary>
    public static IEnumerable<TfSource> OpenAi(int layers)
    {
        yield return TfSource.One("wte.weight", "model/wte");
        yield return TfSource.One("wpe.weight", "model/wpe");
        for (int i = 0; i < layers; i++)
        {
            string tf = $"model/h{i}/", hf = $"h.{i}.";
            foreach (var part in new[] { "ln_1", "ln_2" })
            {
                yield return TfSource.One(hf + part + ".weight", tf + part + "/g");
                yield return TfSource.One(hf + part + ".bias", tf + part + "/b");
            }
            foreach (var part in new[] { "attn/c_attn", "attn/c_proj", "mlp/c_fc", "mlp/c_proj" })
            {
                string name = hf + part.Replace('/', '.');
                yield return TfSource.One(name + ".weight", tf + part + "/w");
                yield return TfSource.One(name + ".bias", tf + part + "/b");
            }
        }
        yield return TfSource.One("ln_f.weight", "model/ln_f/g");
        yield return TfSource.One("ln_f.bias", "model/ln_f/b");
    }

    /// <summary>
    /// GPT2_ML's names (<see cref="Gpt2MlLayout"/>): dense kernels are [in, out] like Conv1D; norms are gamma
    /// and beta; mlp_ln0 becomes ln_1 and mlp_ln1 ln_2.
    /// </summary>
    public static IEnumerable<TfSource> Gpt2Ml(int layers)
    {
        const string embeddings = "newslm/embeddings/";
        yield return TfSource.One("wte.weight", embeddings + "word_embed");
        yield return TfSource.One("wpe.weight", embeddings + "pos_embed");
        yield return TfSource.One(Gpt2MlLayout.EmbeddingNorm + ".weight", embeddings + "LayerNorm_embed_norm/gamma");
        yield return TfSource.One(Gpt2MlLayout.EmbeddingNorm + ".bias", embeddings + "LayerNorm_embed_norm/beta");
        for (int i = 0; i < layers; i++)
        {
            string tf = $"newslm/layer{i:D2}/", hf = $"h.{i}.";
            foreach (var (kind, suffix) in new[] { ("kernel", "weight"), ("bias", "bias") })
            {
                string[] qkv = [tf + "query_layer/" + kind, tf + "key_layer/" + kind, tf + "value_layer/" + kind];
                yield return new TfSource(hf + "attn.c_attn." + suffix, qkv);
                yield return TfSource.One(hf + "attn.c_proj." + suffix, tf + "context_projection_layer/" + kind);
                yield return TfSource.One(hf + "mlp.c_fc." + suffix, tf + "intermediate/" + kind);
                yield return TfSource.One(hf + "mlp.c_proj." + suffix, tf + "output/" + kind);
            }
            foreach (var (ours, theirs) in new[] { ("ln_1", "mlp_ln0"), ("ln_2", "mlp_ln1") })
            {
                yield return TfSource.One(hf + ours + ".weight", tf + $"LayerNorm_{theirs}/gamma");
                yield return TfSource.One(hf + ours + ".bias", tf + $"LayerNorm_{theirs}/beta");
            }
        }
    }
}
