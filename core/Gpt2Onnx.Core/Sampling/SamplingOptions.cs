
namespace Gpt2Onnx.Core.Sampling;

/// <summary>
/// How the next token is chosen and when generation stops. Defaults are plain sampling at temperature 1
/// with no truncation, as GPT-2's own sampling code; set <see cref="Greedy"/> for argmax decoding.
/// </summary>
public sealed record SamplingOptions
{
    public bool Greedy { get; init; }
    /// <summary>Divides the logits; below 1 sharpens, above flattens. 0 means greedy.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens; 0 keeps all.</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>CTRL's penalty (as Hugging Face applies it) on every token already in the prompt or output; 1 is
    /// off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>Subtracted once from the logit of every token already generated (OpenAI's definition).</summary>
    public double PresencePenalty { get; init; }
    /// <summary>Subtracted per occurrence from the logit of every token already generated (OpenAI's
    /// definition).</summary>
    public double FrequencyPenalty { get; init; }
    /// <summary>Makes sampling reproducible: the same seed, model and prompt give the same tokens.</summary>
    public ulong Seed { get; init; }
    public int MaxNewTokens { get; init; } = SamplingDefaults.MaxNewTokens;
    /// <summary>Stop tokens and stop strings are ignored until this many tokens exist.</summary>
    public int MinNewTokens { get; init; }
    /// <summary>Generation ends after one of these ids (the end-of-text id is added by the generator unless told
    /// otherwise).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Generation ends when the text produced so far contains one of these; the stop string is not
    /// returned.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];

    /// <summary>
    /// Beam search instead of sampling (off unless NumBeams is set); it uses the stop tokens and counts above.
    /// </summary>
    public BeamSearchOptions Beams { get; init; } = BeamSearchOptions.Off;

    public bool IsGreedy => Greedy || Temperature == 0;

    /// <summary>
    /// These options with the sampling values that are given: giving a temperature, top-k or top-p asks for
    /// sampling, so greedy defaults (a model whose search section says greedy) no longer apply.
    /// </summary>
    public SamplingOptions WithSampling(double? temperature = null, int? topK = null, double? topP = null) => this with
    {
        Greedy = Greedy && temperature == null && topK == null && topP == null,
        Temperature = temperature ?? Temperature,
        TopK = topK ?? TopK,
        TopP = topP ?? TopP,
    };

    /// <summary>Throws a clear error for a value out of range.</summary>
    public SamplingOptions Validate()
    {
        if (double.IsNaN(Temperature) || Temperature < 0)
            throw new Gpt2OnnxException($"temperature must be 0 (greedy) or more, not {Temperature}");
        if (TopK < 0) throw new Gpt2OnnxException($"top-k must be 0 (off) or more, not {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new Gpt2OnnxException($"top-p must be in (0, 1], not {TopP}");
        if (!(RepetitionPenalty > 0)) throw new Gpt2OnnxException("the repetition penalty must be positive (1 is " +
                                                                  $"off), not {RepetitionPenalty}");
        if (double.IsNaN(PresencePenalty) || double.IsNaN(FrequencyPenalty))
            throw new Gpt2OnnxException("the presence and frequency penalties must be numbers");
        if (MaxNewTokens < 0) throw new Gpt2OnnxException($"max new tokens must be 0 or more, not {MaxNewTokens}");
        if (MinNewTokens < 0 || MinNewTokens > MaxNewTokens)
            throw new Gpt2OnnxException($"min new tokens must be between 0 and max new tokens ({MaxNewTokens}), not " +
                                        $"{MinNewTokens}");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new Gpt2OnnxException("a stop string must not be empty");
        Beams.Validate();
        if (Beams.Enabled && StopStrings.Count > 0)
            throw new Gpt2OnnxException("beam search ends hypotheses on stop tokens, not stop strings: " +
                                        "drop the stop strings");
        return this;
    }
}
