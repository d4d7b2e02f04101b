namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// A checkpoint folder in Hugging Face's GPT-2 layout: its file names, and the names and shapes of the tensors a
/// GPT-2 with a given config has (GPT-2's own names; Conv1D weights stored [in, out]). The trainer writes this
/// layout and the exporter reads it.
/// </summary>
public static class CheckpointLayout
{
    public const string ModelFile = "model.safetensors";
    /// <summary>The weights as torch.save wrote them, read when there is no model.safetensors.</summary>
    public const string TorchModelFile = "pytorch_model.bin";
    /// <summary>Appended to either name, the index of a checkpoint save_pretrained split into shards.</summary>
    public const string IndexSuffix = ".index.json";
    public const string ConfigFile = "config.json";
    public const string GenerationConfigFile = "generation_config.json";

    /// <summary>
    /// Every tensor of a GPT-2 with this config, in a fixed order, with its shape ([in, out] for Conv1D weights);
    /// a GPT2_ML block has ln_emb after wpe and no ln_f (<see cref="Gpt2MlLayout"/>).
    /// </summary>
    public static IEnumerable<(string Name, long[] Shape)> ExpectedTensors(Gpt2Config config)
    {
        long c = config.NEmbd, inner = config.InnerSize;
        yield return ("wte.weight", [config.VocabSize, c]);
        yield return ("wpe.weight", [config.NPositions, c]);
        if (config.IsGpt2Ml)
        {
            yield return (Gpt2MlLayout.EmbeddingNorm + ".weight", [c]);
            yield return (Gpt2MlLayout.EmbeddingNorm + ".bias", [c]);
        }
        for (int i = 0; i < config.NLayer; i++)
        {
            string h = $"h.{i}.";
            yield return (h + "ln_1.weight", [c]);
            yield return (h + "ln_1.bias", [c]);
            yield return (h + "attn.c_attn.weight", [c, 3 * c]);
            yield return (h + "attn.c_attn.bias", [3 * c]);
            yield return (h + "attn.c_proj.weight", [c, c]);
            yield return (h + "attn.c_proj.bias", [c]);
            yield return (h + "ln_2.weight", [c]);
            yield return (h + "ln_2.bias", [c]);
            yield return (h + "mlp.c_fc.weight", [c, inner]);
            yield return (h + "mlp.c_fc.bias", [inner]);
            yield return (h + "mlp.c_proj.weight", [inner, c]);
            yield return (h + "mlp.c_proj.bias", [c]);
        }
        if (config.IsGpt2Ml) yield break;
        yield return ("ln_f.weight", [c]);
        yield return ("ln_f.bias", [c]);
    }
}
