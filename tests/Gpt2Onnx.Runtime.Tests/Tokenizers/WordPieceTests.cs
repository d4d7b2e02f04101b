using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class WordPieceTests
{
    private static WordPieceTokenizer Make(bool lowerCase = false) => new(
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "run", "##ning", "床", "前", "明", "月",
         "光", "，", "。",
         "hello", "world", ",", "!", "cafe", "a", "##b"],
        new BasicTokenizer(lowerCase));

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
    public void Private_use_characters_are_dropped_and_unassigned_ones_make_an_unknown_word_as_in_Hugging_Face() =>
        Assert.Equal(["hello", "world", "[UNK]"], Tokens(Make(), "hel\uE000lo \U000F0000world hello\U000E0080"));

    [Fact]
    public void A_word_is_measured_in_characters_not_UTF16_units()
    {
        // 60 emoji are 120 UTF-16 units but 60 characters, under BERT's 100-character limit.
        var t = new WordPieceTokenizer(["[UNK]", "[SEP]", "\U0001F600", "##\U0001F600"]);
        string sixty = string.Concat(Enumerable.Repeat("\U0001F600", 60)),
        hundredOne = string.Concat(Enumerable.Repeat("\U0001F600", 101));
        Assert.Equal(["\U0001F600", .. Enumerable.Repeat("##\U0001F600", 59)], Tokens(t, sixty));
        Assert.Equal(["[UNK]"], Tokens(t, hundredOne));
    }

    [Fact]
    public void Lower_casing_uses_the_full_mapping_and_accents_go_even_outside_the_basic_plane()
    {
        var t = new WordPieceTokenizer(["[UNK]", "[SEP]", "i\u0307", "a", "i"],
                                       new BasicTokenizer(lowerCase: true, stripAccents: false));
        Assert.Equal(["i\u0307"], Tokens(t, "\u0130")); // İ lower-cases to two characters
        var stripped = new WordPieceTokenizer(["[UNK]", "[SEP]", "a"], new BasicTokenizer(stripAccents: true));
        Assert.Equal(["a"], Tokens(stripped, "a\U0001D167")); // a nonspacing mark outside the BMP
    }

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

    [Theory]
    [InlineData("{\"do_lower_case\": true, \"strip_accents\": false}", "Café 床前", "caf é 床 前")]
    [InlineData("{\"do_lower_case\": false, \"strip_accents\": true}", "Café 床前", "Cafe 床 前")]
    [InlineData("{\"do_lower_case\": false, \"tokenize_chinese_chars\": false}", "Café 床前", "Caf é 床前")]
    [InlineData("{\"unk_token\": \"[UNK]\"}", "Café 床前", "cafe 床 前")] // Hugging Face's defaults
    public void Tokenizer_config_sets_case_accents_and_CJK_as_Hugging_Face_reads_them(string config, string text,
                                                                                      string expected)
    {
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"),
                               ["[UNK]", "[SEP]", "caf", "Caf", "cafe", "Cafe", "##é", "é", "床", "前", "床前"]);
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config);
            var t = Tokenizer.Load(dir);
            Assert.Equal(expected, string.Join(" ", t.Encode(text).Select(t.IdToToken)).Replace(" ##", " "));
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), "{\"strip_accents\": \"yes\"}");
            Assert.Contains("'strip_accents' is \"yes\", not true, false or null",
                            Assert.Throws<Gpt2OnnxException>(() => Tokenizer.Load(dir)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
