using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>A request's prompt as token ids, fitted to the model's context or refused with a 400 naming the field.</summary>
internal static class PromptIds
{
    /// <param name="keepLast">truncate_prompt_tokens: keep only the prompt's last this many tokens</param>
    public static int[] Encode(CompletionEngine engine, string text, int? keepLast, int maxTokens, string field)
    {
        var model = engine.Model;
        var ids = new List<int>();
        model.Tokenizer.Encode(text, ids);
        if (ids.Count == 0) ids.Add(model.EndOfTextId); // an empty prompt starts a new text, as gpt2-run generate's does
        if (keepLast is int keep && ids.Count > keep) ids.RemoveRange(0, ids.Count - keep);
        if (ids.Count >= engine.MaxLength && maxTokens > 0)
            throw ApiError.Invalid(field, $"the prompt has {ids.Count} tokens, which leaves no room in the context of {engine.MaxLength} " +
                                          "tokens a sequence has here: shorten it, or set truncate_prompt_tokens");
        return ids.ToArray();
    }
}
