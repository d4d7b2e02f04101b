using System.Globalization;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>Token ids written as text, the way a command line takes them: "15496,995" or "15496, 995".</summary>
public static class TokenIdList
{
    /// <summary>
    /// The ids in <paramref name="text"/>, separated by commas (spaces around them allowed). Empty or blank
    /// text is no ids (an empty prompt). An empty entry ("1,,2"), a sign, a fraction or a number beyond
    /// int is an error that names the entry, so a typing slip never runs a different prompt.
    /// </summary>
    public static int[] Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var entries = text.Split(',');
        var ids = new int[entries.Length];
        for (int i = 0; i < entries.Length; i++)
        {
            var entry = entries[i].Trim();
            if (entry.Length == 0)
                throw new Gpt2OnnxException($"token id {i + 1} of {entries.Length} is empty: write the ids as whole " +
                                            "numbers separated by single commas, for example 15496,995");
            if (!entry.All(char.IsAsciiDigit)
                || !int.TryParse(entry, NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new Gpt2OnnxException($"token id {i + 1} of {entries.Length}, '{Shorten(entry)}', is not a " +
                                            $"whole number from 0 to {int.MaxValue}");
        }
        return ids;
    }

    private static string Shorten(string entry) => entry.Length <= 24 ? entry : entry[..24] + "…";
}
