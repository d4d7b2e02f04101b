using System.Text.Json.Nodes;

namespace Gpt2Onnx.Core.Sampling;

/// <summary>
/// Hugging Face's sampling keys (do_sample, temperature, top_k, top_p, repetition_penalty), read and written in one
/// place. A checkpoint's generation_config.json and an export's genai_config.json search section use the same
/// names; what a file leaves out takes Hugging Face's defaults (greedy; temperature 1, top-k 50, top-p 1, no
/// repetition penalty).
/// </summary>
public static class HuggingFaceSampling
{
    /// <summary>
    /// The keys of <paramref name="section"/> as sampling options. A value of the wrong type is a
    /// <see cref="Gpt2OnnxException"/> whose message starts with its key; ranges are the caller's to check.
    /// </summary>
    public static SamplingOptions Read(JsonObject section)
    {
        var defaults = new SamplingOptions();
        return new SamplingOptions
        {
            Greedy = !Value(section, "do_sample", false),
            Temperature = Value(section, "temperature", defaults.Temperature),
            TopK = Value(section, "top_k", SamplingDefaults.HuggingFaceTopK),
            TopP = Value(section, "top_p", defaults.TopP),
            RepetitionPenalty = Value(section, "repetition_penalty", defaults.RepetitionPenalty),
        };
    }

    /// <summary>The five keys for <paramref name="options"/>, to merge into a config being written.</summary>
    public static IEnumerable<KeyValuePair<string, JsonNode?>> Write(SamplingOptions options) =>
    [
        new("do_sample", !options.IsGreedy),
        new("temperature", options.Temperature),
        new("top_k", options.TopK),
        new("top_p", options.TopP),
        new("repetition_penalty", options.RepetitionPenalty),
    ];

    private static T Value<T>(JsonObject section, string key, T fallback)
    {
        if (section[key] is not JsonValue value) return fallback;
        return value.TryGetValue<T>(out var result) ? result
            : throw new Gpt2OnnxException($"{key} is {value.ToJsonString()}, not " +
                                          (typeof(T) == typeof(bool) ? "true or false" : "a number"));
    }
}
