namespace Gpt2Onnx.Runtime.Generation;

/// <summary>One prompt to continue: text or token ids (an empty prompt starts from end-of-text).</summary>
public sealed record GenerationRequest
{
    public string? Prompt { get; init; }
    public IReadOnlyList<int>? PromptIds { get; init; }
    public SamplingOptions Options { get; init; } = new();
    /// <summary>Drop tokens from the prompt's start when it and the new tokens exceed the context, instead of failing.</summary>
    public bool TruncatePromptLeft { get; init; }
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
}

/// <summary>The continuation of one prompt.</summary>
public sealed record GenerationResult(int[] PromptIds, int[] TokenIds, string Text, string FinishReason);
