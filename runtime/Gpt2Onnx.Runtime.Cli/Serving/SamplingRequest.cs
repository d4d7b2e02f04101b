using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// The fields completions and chat completions share: how to sample, how many choices, when to stop, whether to
/// stream. OpenAI's own fields, and ours (<c>top_k</c>, <c>repetition_penalty</c>, <c>min_tokens</c>) beside them.
/// </summary>
internal sealed record SamplingRequest
{
    public int MaxTokens { get; init; }
    public int MinTokens { get; init; }
    public int N { get; init; } = 1;
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? RepetitionPenalty { get; init; }
    public double PresencePenalty { get; init; }
    public double FrequencyPenalty { get; init; }
    public ulong? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public bool Stream { get; init; }
    /// <summary><c>stream_options.include_usage</c>: a last chunk with the usage before <c>[DONE]</c>.</summary>
    public bool StreamUsage { get; init; }
    /// <summary>Alternatives reported with each token; null reports no log-probabilities.</summary>
    public int? Logprobs { get; init; }
    /// <summary>Keep only the prompt's last this many tokens (vLLM's field); else a long prompt is refused.</summary>
    public int? TruncatePromptTokens { get; init; }

    /// <param name="maxTokensNames">the names max_tokens goes by (chat clients send max_completion_tokens)</param>
    public static SamplingRequest Read(RequestFields fields, ServerOptions limits, params string[] maxTokensNames)
    {
        int? maxTokens = null;
        foreach (var name in maxTokensNames) maxTokens ??= fields.Int(name, 0, limits.MaxTokens);
        int max = maxTokens ?? limits.DefaultMaxTokens;
        int? minTokens = fields.Int("min_tokens", 0, limits.MaxTokens);
        if (minTokens > max)
            throw ApiError.Invalid("min_tokens", $"'min_tokens' ({minTokens}) must not exceed max_tokens ({max})");
        int? topK = fields.Int("top_k", -1, int.MaxValue); // vLLM's -1 and our 0 both mean every token
        long? seed = fields.Integer("seed", long.MinValue, long.MaxValue);
        var stream = fields["stream_options"];
        if (stream != null && stream is not System.Text.Json.Nodes.JsonObject)
            throw ApiError.Invalid("stream_options", "'stream_options' must be an object");
        bool streamUsage = stream?["include_usage"]?.GetValueKind() == System.Text.Json.JsonValueKind.True;
        return new SamplingRequest
        {
            MaxTokens = max,
            MinTokens = minTokens ?? 0,
            N = fields.Int("n", 1, limits.MaxChoices) ?? 1,
            Temperature = fields.Number("temperature", 0, 2),
            TopP = ReadTopP(fields),
            TopK = topK < 0 ? 0 : topK,
            RepetitionPenalty = fields.Number("repetition_penalty", double.Epsilon, 100),
            PresencePenalty = fields.Number("presence_penalty", -2, 2) ?? 0,
            FrequencyPenalty = fields.Number("frequency_penalty", -2, 2) ?? 0,
            Seed = seed == null ? null : unchecked((ulong)seed.Value),
            Stop = Stops(fields),
            Stream = fields.Bool("stream") ?? false,
            StreamUsage = streamUsage,
            TruncatePromptTokens = fields.Int("truncate_prompt_tokens", 1, int.MaxValue),
        };
    }

    private static double? ReadTopP(RequestFields fields)
    {
        double? topP = fields.Number("top_p", 0, 1);
        return topP == 0 ? throw ApiError.Invalid("top_p", "'top_p' must be above 0 and at most 1, not 0") : topP;
    }

    private static IReadOnlyList<string> Stops(RequestFields fields)
    {
        var stops = fields.Strings("stop", 4) ?? [];
        return stops.Any(s => s.Length == 0) ? throw ApiError.Invalid("stop", "'stop' strings must not be empty")
                                             : stops;
    }

    /// <summary>
    /// Choice <paramref name="choice"/>'s options: the model's own sampling changed by what the request gives, as
    /// <c>gpt2-run generate</c> changes it by its flags, so equal settings give equal text; choice i gets the seed + i.
    /// </summary>
    public SamplingOptions Options(SamplingOptions model, ulong seed, int choice) =>
        model.WithSampling(Temperature, TopK, TopP) with
        {
            RepetitionPenalty = RepetitionPenalty ?? model.RepetitionPenalty,
            PresencePenalty = PresencePenalty,
            FrequencyPenalty = FrequencyPenalty,
            MaxNewTokens = MaxTokens,
            MinNewTokens = MinTokens,
            Seed = unchecked(seed + (ulong)choice),
            StopStrings = Stop,
        };
}
