using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class WordPieceTests
{
    private static WordPieceTokenizer Make(bool lowerCase = false) => new(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "run", "##ning", "床", "前", "明", "月", "光", "，", "。",
         "hello", "world", ",", "!", "cafe", "a", "##b"],
        lowerCase, stripAccents: lowerCase);

    private static string[] Tokens(WordPieceTokenizer t, string text) => t.Encode(text).Select(t.IdToToken).ToArray();

    [Fact]
    public void Greedy_longest_match_first_with_continuations() =>
        Assert.Equal(["un", "##aff", "##able", "run", "##ning"], Tokens(Make(), "unaffable running"));

    [Fact]
    public void Every_CJK_character_is_its_own_token_and_punctuation_splits() =>
        Assert.Equal(["床", "前", "明", "月", "光", "，", "hello", ",", "world", "!"], Tokens(Make(), "床前明月光，hello,world!"));

    [Fact]
    public void A_word_that_cannot_be_covered_is_one_unknown_token() =>
        Assert.Equal(["[UNK]", "hello"], Tokens(Make(), "unxyz hello"));

    [Fact]
    public void Lower_casing_and_accent_stripping_are_optional()
    {
        Assert.Equal(["hello", "cafe"], Tokens(Make(lowerCase: true), "HeLLo Café"));
        Assert.Equal(["[UNK]", "[UNK]"], Tokens(Make(lowerCase: false), "HeLLo Café"));
    }

    [Fact]
    public void Control_characters_are_dropped_and_whitespace_separates() =>
        Assert.Equal(["hello", "world"], Tokens(Make(), "hello\u0000\u0007\t\r\n world\u200b"));

    [Fact]
    public void Special_tokens_are_text_unless_allowed()
    {
        var t = Make();
        Assert.Equal(["床", "[SEP]", "光"], t.Encode("床[SEP]光", allowSpecialTokens: true).Select(t.IdToToken).ToArray());
        Assert.DoesNotContain(t.EndOfTextId, t.Encode("床[SEP]光"));
    }

    [Fact]
    public void Decoding_joins_Chinese_without_spaces_and_words_with_them()
    {
        var t = Make();
        Assert.Equal("床前明月光。", t.Decode(t.Encode("床 前 明月光 。")));
        Assert.Equal("hello, world! unaffable", t.Decode(t.Encode("hello , world ! unaffable")));
    }

    [Fact]
    public void The_streaming_decoder_produces_the_same_text_as_decoding_all_at_once()
    {
        var t = Make();
        int[] ids = t.Encode("床前明月光，hello world! running");
        var decoder = t.CreateStreamingDecoder();
        string streamed = string.Concat(ids.Select(decoder.Append)) + decoder.Flush();
        Assert.Equal(t.Decode(ids), streamed);
    }

    [Fact]
    public void End_of_text_is_SEP_by_default() => Assert.Equal(3, Make().EndOfTextId);

    [Fact]
    public void A_vocabulary_without_an_unknown_token_is_a_clear_error()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => new WordPieceTokenizer(["[SEP]", "a"]));
        Assert.Contains("[UNK]", error.Message);
    }
}
