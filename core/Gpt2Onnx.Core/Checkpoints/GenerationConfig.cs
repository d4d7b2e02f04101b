using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// What a checkpoint's generation_config.json says: the end-of-text id and how to sample. The export's
/// genai_config.json repeats it, and gpt2-train sample starts from it.
/// </summary>
public sealed record GenerationConfig(int Eos, bool DoSample, double Temperature, int TopK, double TopP,
                                      double RepetitionPenalty)
{
    /// <summary>How to sample as the runtime's options: greedy unless do_sample.</summary>
    public SamplingOptions Sampling =>
        new() { Greedy = !DoSample, Temperature = Temperature, TopK = TopK, TopP = TopP,
                RepetitionPenalty = RepetitionPenalty };

    /// <summary>
    /// generation_config.json's facts, with Hugging Face's defaults for what it leaves out (greedy; when sampling,
    /// temperature 1, top-k 50, top-p 1; no repetition penalty). The end-of-text id is its eos_token_id (a number,
    /// or a list whose first id is taken, as Hugging Face allows), else config.json's; an id outside the
    /// vocabulary or a sampling value out of range is refused here, not at the first run of the export.
    /// </summary>
    public static GenerationConfig Read(string checkpointDirectory, Gpt2Config config)
    {
        string path = Path.Combine(checkpointDirectory, CheckpointLayout.GenerationConfigFile);
        var defaults = new GenerationConfig(config.EosTokenId, DoSample: false, Temperature: 1,
                                            TopK: SamplingDefaults.HuggingFaceTopK, TopP: 1, RepetitionPenalty: 1);
        if (!File.Exists(path)) return Checked(defaults);
        try
        {
            var root = JsonText.Parse(BoundedFile.ReadAllBytes(path, 1 << 20)
                                      ?? throw new Gpt2OnnxException($"{path} is over 1 MB, far more than a " +
                                                                     "generation config: fix or delete " +
                                                                     "it")) as JsonObject
                       ?? throw new Gpt2OnnxException($"{path} is not a JSON object: fix or delete it");
            var eos = root["eos_token_id"];
            if (eos is JsonArray { Count: > 0 } ids) eos = ids[0];
            var sampling = HuggingFaceSampling.Read(root);
            return Checked(new GenerationConfig(
                eos is JsonValue id ? id.GetValue<int>() : defaults.Eos, !sampling.Greedy, sampling.Temperature,
                sampling.TopK, sampling.TopP, sampling.RepetitionPenalty));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new Gpt2OnnxException($"{path}: not a valid generation config ({JsonText.Describe(e)}): fix or " +
                                        "delete it");
        }
        catch (Gpt2OnnxException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new Gpt2OnnxException($"{path}: not a valid generation config ({e.Message}): fix or delete it");
        }

        GenerationConfig Checked(GenerationConfig g)
        {
            if (g.Eos < 0 || g.Eos >= config.VocabSize)
                throw new Gpt2OnnxException($"{path}: eos_token_id {g.Eos} is outside the vocabulary " +
                                            $"(0..{config.VocabSize - 1}): fix or delete it");
            if (!(g.Temperature > 0 && g.TopK >= 0 && g.TopP is > 0 and <= 1 && g.RepetitionPenalty > 0
                  && double.IsFinite(g.Temperature + g.RepetitionPenalty)))
                throw new Gpt2OnnxException($"{path}: a sampling value is out of range (temperature {g.Temperature}, " +
                                            $"top_k {g.TopK}, top_p {g.TopP}, repetition_penalty " +
                                            $"{g.RepetitionPenalty}; each must be positive, top_k may be 0, top_p at " +
                                            "most 1): fix or delete it");
            return g;
        }
    }
}
