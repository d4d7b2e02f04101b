namespace Gpt2Onnx.Core.Sampling;

/// <summary>When beam search stops, as Hugging Face's <c>early_stopping</c> defines it.</summary>
public enum EarlyStopping
{
    /// <summary>
    /// <c>False</c>: stop once no running beam, scored at the current length, beats the worst finished one.
    /// </summary>
    Heuristic,
    /// <summary><c>True</c>: stop as soon as there are as many finished hypotheses as beams.</summary>
    WhenFull,
    /// <summary><c>"never"</c>: stop only when no running beam can beat the worst finished one at any length.</summary>
    Never,
}

/// <summary>
/// Beam search settings with Hugging Face's meanings. <see cref="NumBeams"/> 0 turns beam search off (the
/// request samples or decodes greedily as its sampling options say); 1 or more runs beam search, which
/// chooses tokens by summed log-probabilities and never samples.
/// </summary>
public sealed record BeamSearchOptions
{
    /// <summary>Beam search off.</summary>
    public static readonly BeamSearchOptions Off = new();

    /// <summary>Hypotheses kept at each step, run as one batch; 0 is off.</summary>
    public int NumBeams { get; init; }
    /// <summary>A finished hypothesis scores sum of log-probs / generated length^LengthPenalty.</summary>
    public double LengthPenalty { get; init; } = 1.0;
    public EarlyStopping EarlyStopping { get; init; } = EarlyStopping.Heuristic;
    /// <summary>No n-gram of this size occurs twice in prompt + output; 0 is off.</summary>
    public int NoRepeatNgramSize { get; init; }
    /// <summary>How many of the best finished hypotheses are returned (at most <see cref="NumBeams"/>).</summary>
    public int NumReturnSequences { get; init; } = 1;

    public bool Enabled => NumBeams > 0;

    /// <summary>The most beams a request may ask for: each is a row of the cache.</summary>
    public const int MaxBeams = 64;

    /// <summary>Throws one clear error for a value out of range or a setting given without beams.</summary>
    public BeamSearchOptions Validate()
    {
        if (NumBeams < 0 || NumBeams > MaxBeams)
            throw new Gpt2OnnxException($"num_beams must be from 0 (off) to {MaxBeams}, not {NumBeams}");
        if (!double.IsFinite(LengthPenalty))
            throw new Gpt2OnnxException($"length_penalty must be a finite number, not {LengthPenalty}");
        if (NoRepeatNgramSize < 0)
            throw new Gpt2OnnxException($"no_repeat_ngram_size must be 0 (off) or more, not {NoRepeatNgramSize}");
        if (NumReturnSequences < 1 || NumReturnSequences > Math.Max(1, NumBeams))
            throw new Gpt2OnnxException($"num_return_sequences must be from 1 to num_beams " +
                                        $"({Math.Max(1, NumBeams)}), not {NumReturnSequences}: ask for more beams " +
                                        "or fewer sequences");
        if (!Enabled && this != Off)
            throw new Gpt2OnnxException("length_penalty, early_stopping, no_repeat_ngram_size and " +
                                        "num_return_sequences apply to beam search: give num_beams (1 or more) too");
        return this;
    }

    /// <summary>Reads early_stopping as Hugging Face writes it: true, false or "never".</summary>
    public static EarlyStopping ParseEarlyStopping(string text) => text.Trim().ToLowerInvariant() switch
    {
        "true" => EarlyStopping.WhenFull,
        "false" => EarlyStopping.Heuristic,
        "never" => EarlyStopping.Never,
        _ => throw new Gpt2OnnxException($"early_stopping must be true, false or never, not '{text}'"),
    };
}
