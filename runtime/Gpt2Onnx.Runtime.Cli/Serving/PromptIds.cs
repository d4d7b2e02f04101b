using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>A request's prompt as token ids, fitted to the context or refused with a 400 naming the field.</summary>
internal static class PromptIds
{
    /// <summary>The request's truncate_prompt_tokens keeps only the prompt's last that many tokens.</summary>
    public static int[] Encode(CompletionEngine engine, string text, SamplingRequest sampling, string field)
    {
        var model = engine.Model;
        var ids = new List<int>();
        model.Tokenizer.Encode(text, ids);
        if (ids.Count == 0) ids.Add(model.EndOfTextId); // an empty prompt starts a new text, as generate's does
        if (sampling.TruncatePromptTokens is int keep && ids.Count > keep) ids.RemoveRange(0, ids.Count - keep);
        if (ids.Count >= engine.MaxLength && sampling.MaxTokens > 0)
            throw ApiError.Invalid(field, $"the prompt has {ids.Count} tokens, which leaves no room in the context " +
                                          $"of {engine.MaxLength} tokens a sequence has here: shorten it, or set " +
                                          "truncate_prompt_tokens");
        return ids.ToArray();
    }
}
