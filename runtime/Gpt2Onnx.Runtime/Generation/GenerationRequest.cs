using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Sampling;

namespace Gpt2Onnx.Runtime.Generation;

/// <summary>One prompt to continue: text or token ids, not both (an empty prompt starts from end-of-text).</summary>
public sealed record GenerationRequest
{
    public string? Prompt { get; init; }
    public IReadOnlyList<int>? PromptIds { get; init; }
    public SamplingOptions Options { get; init; } = new();
    /// <summary>Drop tokens from the prompt's start when it and the new tokens exceed the context, instead of
    /// failing.</summary>
    public bool TruncatePromptLeft { get; init; }

    /// <summary>
    /// Fits prompt ids to a context of <paramref name="contextLength"/> as the runtime does: with
    /// <paramref name="truncateLeft"/>, the prompt's end is kept, leaving room for the new tokens; without it,
    /// a prompt that leaves no room for a new token is an error. Generation then stops at the context's end.
    /// </summary>
    public static void FitPrompt(List<int> ids, int contextLength, int maxNewTokens, bool truncateLeft)
    {
        if (truncateLeft)
        {
            int keep = contextLength - Math.Min(maxNewTokens, contextLength - 1);
            if (ids.Count > keep) ids.RemoveRange(0, ids.Count - keep);
        }
        else if (ids.Count >= contextLength)
        {
            throw new Gpt2OnnxException($"the prompt has {ids.Count} tokens, which leaves no room in the model's " +
                                        $"context of {contextLength}: shorten it, or allow left truncation " +
                                        "(--truncate)");
        }
    }
}

/// <summary>Why generation of a sequence ended.</summary>
public static class FinishReasons
{
    /// <summary>The end-of-text token or another stop token.</summary>
    public const string Stop = "stop";
    /// <summary>A stop string appeared in the text.</summary>
    public const string StopString = "stop_string";
    /// <summary>The maximum number of new tokens, or the model's context, was reached.</summary>
    public const string Length = "length";
    /// <summary>The request was cancelled (its client left) before it ended.</summary>
    public const string Cancelled = "cancelled";
}

/// <summary>The continuation of one prompt.</summary>
public sealed record GenerationResult(int[] PromptIds, int[] TokenIds, string Text, string FinishReason)
{
    /// <summary>Beam search's best sequences, best first (the first is this result); null for sampling.</summary>
    public IReadOnlyList<Beams.BeamSequence>? Sequences { get; init; }
}
