using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// The special tokens of a byte-level vocabulary: which strings they are, which one ends a text, and
/// where the next one occurs in a text (only consulted when the caller allows special tokens).
/// </summary>
internal sealed class SpecialTokens
{
    public const string Gpt2EndOfText = "<|endoftext|>";

    /// <param name="declared">the special tokens a tokenizer_config.json names, or null for GPT-2's default</param>
    /// <param name="endOfText">the token that ends a text (eos_token), or null for &lt;|endoftext|&gt;</param>
    public SpecialTokens(Dictionary<string, int> vocab, IEnumerable<string>? declared, string? endOfText, string source)
    {
        var names = declared?.ToList() ?? [];
        endOfText ??= Gpt2EndOfText;
        if (!names.Contains(endOfText)) names.Add(endOfText);
        var ids = new Dictionary<string, int>();
        foreach (var name in names)
        {
            if (!vocab.TryGetValue(name, out int id))
                throw new Gpt2OnnxException(name == Gpt2EndOfText && declared == null
                    ? $"{source}: the vocabulary has no end-of-text token '{Gpt2EndOfText}': add it, or name one as " +
                      "eos_token in tokenizer_config.json"
                    : $"{source}: the special token '{name}' is not in the vocabulary: the tokenizer files do not " +
                      "belong together");
            ids[name] = id;
        }
        Ids = ids;
        EndOfTextId = ids[endOfText];
        Matcher = new SpecialTokenMatcher(ids);
    }

    public SpecialTokenMatcher Matcher { get; }

    public IReadOnlyDictionary<string, int> Ids { get; }

    public int EndOfTextId { get; }
}
