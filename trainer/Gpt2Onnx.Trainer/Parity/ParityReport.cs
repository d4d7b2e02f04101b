using System.Text.Json.Serialization;

namespace Gpt2Onnx.Trainer.Parity;

/// <summary>One prompt's comparison of trainer (libtorch) and runtime (ONNX Runtime).</summary>
public sealed record PromptParity
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("tokens")] public int Tokens { get; init; }
    /// <summary>Largest |trainer logit − runtime logit| over every position and id.</summary>
    [JsonPropertyName("max_abs_diff")] public double MaxAbsDiff { get; init; }
    /// <summary>max_abs_diff relative to the largest |trainer logit| of the prompt (the logit scale).</summary>
    [JsonPropertyName("max_rel_diff")] public double MaxRelDiff { get; init; }
    [JsonPropertyName("top1_agreement")] public double Top1Agreement { get; init; }
    /// <summary>Largest difference between the runtime's logits through its cache and in one full run.</summary>
    [JsonPropertyName("cache_max_abs_diff")] public double CacheMaxAbsDiff { get; init; }
    [JsonPropertyName("greedy_identical")] public bool GreedyIdentical { get; init; }
    [JsonPropertyName("greedy_diverges_at")] public int? GreedyDivergesAt { get; init; }
    [JsonPropertyName("sampled_identical")] public bool SampledIdentical { get; init; }
    [JsonPropertyName("sampled_diverges_at")] public int? SampledDivergesAt { get; init; }
}

/// <summary>The report <c>gpt2-train parity</c> writes.</summary>
public sealed record ParityReport
{
    [JsonPropertyName("checkpoint")] public required string Checkpoint { get; init; }
    [JsonPropertyName("onnx")] public required string Onnx { get; init; }
    [JsonPropertyName("variant")] public required string Variant { get; init; }
    [JsonPropertyName("precision")] public required string Precision { get; init; }
    [JsonPropertyName("max_abs_diff")] public double MaxAbsDiff { get; init; }
    [JsonPropertyName("max_rel_diff")] public double MaxRelDiff { get; init; }
    [JsonPropertyName("top1_agreement")] public double Top1Agreement { get; init; }
    [JsonPropertyName("cache_max_abs_diff")] public double CacheMaxAbsDiff { get; init; }
    [JsonPropertyName("greedy_identical")] public bool GreedyIdentical { get; init; }
    [JsonPropertyName("sampled_identical")] public bool SampledIdentical { get; init; }
    /// <summary>The runtime's greedy tokens for all prompts in one padded batch equal the trainer's, prompt by
    /// prompt.</summary>
    [JsonPropertyName("batch_identical")] public bool BatchIdentical { get; init; }
    [JsonPropertyName("tolerance")] public required ParityTolerance Tolerance { get; init; }
    [JsonPropertyName("passed")] public bool Passed { get; init; }
    [JsonPropertyName("failures")] public IReadOnlyList<string> Failures { get; init; } = [];
    [JsonPropertyName("prompts")] public required IReadOnlyList<PromptParity> Prompts { get; init; }
}

/// <summary>
/// What passing means for each kind of export. Tighter than ONNX Runtime's own GPT-2 parity tool (atol
/// 5e-4 for fp32): the portable fp32 graph computes the trainer's function op for op; the fused one
/// reorders sums inside its kernels; fp16, int8 and int4 are judged by the token they pick.
/// </summary>
public sealed record ParityTolerance
{
    [JsonPropertyName("max_abs_diff")] public double? MaxAbsDiff { get; init; }
    [JsonPropertyName("min_top1_agreement")] public double MinTop1Agreement { get; init; }
    [JsonPropertyName("greedy_identical_required")] public bool GreedyIdenticalRequired { get; init; }

    public static ParityTolerance For(string variant, string precision) => (variant, precision) switch
    {
        ("portable", "fp32") => new() { MaxAbsDiff = 1e-4, MinTop1Agreement = 1.0, GreedyIdenticalRequired = true },
        (_, "fp32") => new() { MaxAbsDiff = 1e-3, MinTop1Agreement = 1.0, GreedyIdenticalRequired = true },
        (_, "fp16") => new() { MinTop1Agreement = 0.99 },
        (_, "int8") => new() { MinTop1Agreement = 0.99 },
        // int4 is reported, not held to a number; the floor only catches a broken quantizer.
        _ => new() { MinTop1Agreement = 0.50 },
    };
}
