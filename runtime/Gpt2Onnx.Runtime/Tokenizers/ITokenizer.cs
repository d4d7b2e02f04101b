namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>Text to token ids and back. Implementations are immutable and safe to share across threads.</summary>
public interface ITokenizer
{
    /// <summary>The number of ids, special tokens included.</summary>
    int VocabSize { get; }

    /// <summary>The id that separates documents and ends generation (GPT-2's &lt;|endoftext|&gt;).</summary>
    int EndOfTextId { get; }

    /// <summary>
    /// Appends the ids of <paramref name="text"/> to <paramref name="ids"/>. Special-token strings in the
    /// text are ordinary text unless <paramref name="allowSpecialTokens"/> is true.
    /// </summary>
    void Encode(ReadOnlySpan<char> text, List<int> ids, bool allowSpecialTokens = false);

    /// <summary>The text of <paramref name="ids"/>; bytes that are not valid UTF-8 become U+FFFD.</summary>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>The token's own spelling in the vocabulary file.</summary>
    string IdToToken(int id);

    /// <summary>A decoder that turns ids into text one at a time, emitting only whole characters.</summary>
    StreamingDecoder CreateStreamingDecoder();
}

public static class TokenizerExtensions
{
    public static int[] Encode(this ITokenizer tokenizer, string text, bool allowSpecialTokens = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        tokenizer.Encode(text, ids, allowSpecialTokens);
        return ids.ToArray();
    }
}
