using System.CommandLine;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Cli;

/// <summary>
/// The sampling options every generating command takes (gpt2-run generate, gpt2-train sample), declared
/// and read in one place so that both sides sample with identical settings.
/// How to choose tokens starts from the model's own defaults (genai_config.json's search section, or the
/// checkpoint's generation_config.json), as onnxruntime-genai and Hugging Face do; each option given
/// changes its part, and a temperature, top-k or top-p given without --greedy asks for sampling.
/// </summary>
public sealed class SamplingFlags
{
    public Option<int> MaxNewTokens { get; } = new("--max-new-tokens")
    {
        Description = "tokens to generate at most: up to the model's context length, where generation ends anyway " +
                      "(the default is cut to it)",
        DefaultValueFactory = _ => SamplingDefaults.MaxNewTokens,
    };
    public Option<int> MinNewTokens { get; } = new("--min-new-tokens")
    {
        Description = "tokens before a stop token or string may end generation (at most --max-new-tokens)",
        DefaultValueFactory = _ => 0,
    };
    public Option<bool> Greedy { get; } = new("--greedy") { Description = "always take the most likely token" };
    public Option<double?> Temperature { get; } =
        new("--temperature") { Description = "sampling temperature (0 = greedy) [default: the model's]" };
    public Option<int?> TopK { get; } =
        new("--top-k") { Description = "sample among the k most likely tokens (0 = all) [default: the model's]" };
    public Option<double?> TopP { get; } =
        new("--top-p") { Description = "sample among the most likely tokens whose probability reaches p [default: " +
                                       "the model's]" };
    public Option<double?> RepetitionPenalty { get; } =
        new("--repetition-penalty") { Description = "CTRL repetition penalty (1 = off) [default: the model's]" };
    public Option<double> PresencePenalty { get; } =
        new("--presence-penalty") { Description = "subtracted from tokens already generated",
                                    DefaultValueFactory = _ => 0.0 };
    public Option<double> FrequencyPenalty { get; } =
        new("--frequency-penalty") { Description = "subtracted per occurrence of tokens already generated",
                                     DefaultValueFactory = _ => 0.0 };
    public Option<ulong> Seed { get; } =
        new("--seed") { Description = "random seed; the same seed gives the same text",
                        DefaultValueFactory = _ => 0UL };
    public Option<int[]> StopIds { get; } =
        new("--stop-id") { Description = "token ids that end generation (besides end-of-text)",
                           AllowMultipleArgumentsPerToken = true };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "strings that end generation" };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { MaxNewTokens, MinNewTokens, Greedy, Temperature, TopK, TopP,
                                              RepetitionPenalty, PresencePenalty, FrequencyPenalty, Seed, StopIds,
                                              Stop })
            command.Options.Add(option);
    }

    /// <summary>
    /// <paramref name="options"/> for a model of <paramref name="contextLength"/> tokens: a count given beyond the
    /// context is refused, naming its option; the default count is cut to it (a model shorter than 64 tokens).
    /// </summary>
    public SamplingOptions FitContext(ParseResult parsed, SamplingOptions options, int contextLength) => (options with
    {
        MaxNewTokens = CountWithin(parsed, MaxNewTokens, contextLength),
        MinNewTokens = CountWithin(parsed, MinNewTokens, contextLength),
    }).Validate();

    /// <summary>
    /// A count of tokens to generate, bounded by the model's context: given beyond it, a usage error (generation
    /// never passes the context, and the count is storage set aside); by default, cut to it.
    /// </summary>
    public static int CountWithin(ParseResult parsed, Option<int> count, int contextLength)
    {
        int value = parsed.GetValue(count);
        if (parsed.GetResult(count) is null or { Implicit: true }) return Math.Min(value, contextLength);
        CliHost.Require(value <= contextLength, $"{count.Name} {value} is more than the model's context of " +
                                                $"{contextLength} tokens, which generation never passes: give at " +
                                                $"most {contextLength}");
        return value;
    }

    /// <summary>
    /// <paramref name="model"/>'s sampling (plain sampling at temperature 1 when not given) changed by the options
    /// given; out-of-range values are reported with one clear error.
    /// </summary>
    public SamplingOptions Read(ParseResult parsed, SamplingOptions? model = null)
    {
        var sampling = (model ?? new SamplingOptions())
            .WithSampling(parsed.GetValue(Temperature), parsed.GetValue(TopK), parsed.GetValue(TopP));
        return (sampling with
        {
            Greedy = sampling.Greedy || parsed.GetValue(Greedy),
            RepetitionPenalty = parsed.GetValue(RepetitionPenalty) ?? sampling.RepetitionPenalty,
            MaxNewTokens = parsed.GetValue(MaxNewTokens),
            MinNewTokens = parsed.GetValue(MinNewTokens),
            PresencePenalty = parsed.GetValue(PresencePenalty),
            FrequencyPenalty = parsed.GetValue(FrequencyPenalty),
            Seed = parsed.GetValue(Seed),
            StopTokenIds = parsed.GetValue(StopIds) ?? [],
            StopStrings = parsed.GetValue(Stop) ?? [],
        }).Validate();
    }
}
