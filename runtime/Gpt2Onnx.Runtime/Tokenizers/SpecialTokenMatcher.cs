namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>Finds special-token strings in a text, for encoders that were told to allow them.</summary>
internal sealed class SpecialTokenMatcher(IEnumerable<KeyValuePair<string, int>> tokens)
{
    // Longest first, so that where two start at the same place the longer wins.
    private readonly (string Text, int Id)[] _byLength = tokens
        .OrderByDescending(p => p.Key.Length).ThenBy(p => p.Key, StringComparer.Ordinal)
        .Select(p => (p.Key, p.Value)).ToArray();

    /// <summary>The earliest special token in <paramref name="text"/>.</summary>
    public bool FindNext(ReadOnlySpan<char> text, out int at, out int length, out int id)
    {
        at = -1;
        length = 0;
        id = -1;
        foreach (var (token, tokenId) in _byLength)
        {
            int index = text.IndexOf(token, StringComparison.Ordinal);
            if (index >= 0 && (at < 0 || index < at))
            {
                at = index;
                length = token.Length;
                id = tokenId;
            }
        }
        return at >= 0;
    }

    public delegate void OrdinaryEncoder(ReadOnlySpan<char> text, List<int> ids);

    /// <summary>Encodes <paramref name="text"/>: special tokens become their ids, the text between them goes to
    /// <paramref name="ordinary"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> ids, OrdinaryEncoder ordinary)
    {
        while (FindNext(text, out int at, out int length, out int id))
        {
            ordinary(text[..at], ids);
            ids.Add(id);
            text = text[(at + length)..];
        }
        ordinary(text, ids);
    }
}
