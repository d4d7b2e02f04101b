namespace Gpt2Onnx.Core.Sampling;

/// <summary>
/// The sampling values every stage starts from, set here once: the command lines, the batch job, the library's
/// <see cref="SamplingOptions"/> and the checkpoints the trainer writes all take them from this class.
/// </summary>
public static class SamplingDefaults
{
    /// <summary>Tokens a generation adds when not told how many.</summary>
    public const int MaxNewTokens = 64;

    /// <summary>
    /// Top-k where a Hugging Face or onnxruntime-genai config leaves it out (both libraries' default).
    /// </summary>
    public const int HuggingFaceTopK = 50;

    /// <summary>
    /// How a model the trainer writes says to sample (its generation_config.json), and how the trainer samples
    /// while it trains: temperature 0.8 and top-k 40 keep a small model's text readable.
    /// </summary>
    public static SamplingOptions TrainedModel { get; } = new() { Temperature = 0.8, TopK = 40 };
}
