using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>Text handed out token by token, and cut at stop strings, with the real GPT-2 vocabulary.</summary>
public class GeneratedTextTests
{
    private static readonly Lazy<BpeTokenizer> Gpt2 = new(() => BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer));

    /// <summary>Feeds <paramref name="text"/>'s tokens one by one; returns the pieces handed out, the final text, and
    /// the tokens used.</summary>
    private static (List<string> Pieces, string Text, int Tokens) Feed(string text, string[] stops, int watchFrom = 1)
    {
        var ids = new List<int>();
        Gpt2.Value.Encode(text, ids);
        var generated = new GeneratedText(Gpt2.Value, stops);
        var pieces = new List<string>();
        int used = 0;
        foreach (int id in ids)
        {
            used++;
            if (generated.Append(id, pieces.Add, watchStops: used >= watchFrom)) break;
        }
        return (pieces, generated.Complete(pieces.Add), used);
    }

    [Fact]
    public void Without_stop_strings_every_character_comes_out_once_and_whole()
    {
        string text = "Hello, 世界! 🎉 done";
        var (pieces, result, _) = Feed(text, []);
        Assert.Equal(text, result);
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void A_stop_string_split_across_tokens_cuts_the_text_before_it_and_nothing_of_it_is_handed_out()
    {
        var (pieces, result, used) = Feed("The answer is 42.\n\nQuestion: next", ["\n\nQuestion:"]);
        Assert.Equal("The answer is 42.", result);
        Assert.Equal(result, string.Concat(pieces));
        Assert.True(used < 10, $"stopped only after {used} tokens");
    }

    [Fact]
    public void The_earliest_of_several_stop_strings_wins_whatever_their_order()
    {
        Assert.Equal("one two", Feed("one two three four", ["four", " three"]).Text);
        Assert.Equal("one", Feed("one two three four", ["four", " t"]).Text);
    }

    [Fact]
    public void A_stop_string_before_the_minimum_length_is_ignored_and_a_later_one_counts()
    {
        // "END" appears in the first tokens (not watched yet) and again later.
        var (pieces, result, _) = Feed("END of part one. END of part two.", ["END"], watchFrom: 4);
        Assert.Equal("END of part one. ", result);
        Assert.Equal(result, string.Concat(pieces));
    }
}
