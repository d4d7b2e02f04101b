using System.Buffers;
using Gpt2Onnx.Runtime.Tokenizers;
using Microsoft.ML.Tokenizers;
using BpeTokenizer = Gpt2Onnx.Runtime.Tokenizers.BpeTokenizer;
using WordPieceTokenizer = Gpt2Onnx.Runtime.Tokenizers.WordPieceTokenizer;
using MlTokenizer = Microsoft.ML.Tokenizers.Tokenizer;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

/// <summary>
/// Our tokenizers through Microsoft.ML.Tokenizers' contract, against that library's own tokenizers for the same
/// vocabulary: its TiktokenTokenizer for GPT-2 (ids, offsets) and its BertTokenizer for WordPiece (ids).
/// </summary>
public sealed class LibraryContractTests
{
    private static readonly BpeTokenizer Gpt2 = BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer);
    private static readonly TiktokenTokenizer Tiktoken = TiktokenTokenizer.CreateForModel("gpt2");

    public static TheoryData<string> Texts => new()
    {
        "Hello world, it's 2026!",
        "  two  spaces\n\n\tand tabs   ",
        "日本語 😀 x, 床前明月光，疑是地上霜。",
        "they'll've done it; we'D see: $3.14 -- café naïve",
        "ends with an emoji 👩‍👩‍👧",
        "text<|endoftext|>more text",
        "",
    };

    /// <summary>What code that knows only the library's Tokenizer sees.</summary>
    private static (int[] Ids, (int, int)[] Offsets, string Text) Through(MlTokenizer tokenizer, string text)
    {
        var tokens = tokenizer.EncodeToTokens(text, out string? normalized);
        Assert.Null(normalized);
        var ids = tokens.Select(t => t.Id).ToArray();
        return (ids, tokens.Select(t => (t.Offset.Start.Value, t.Offset.End.Value)).ToArray(), tokenizer.Decode(ids));
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void Gpt2_through_the_library_contract_gives_tiktokens_ids_and_offsets(string text)
    {
        var ours = Through(Gpt2, text);
        var theirs = Through(Tiktoken, text);
        Assert.Equal(theirs.Ids, ours.Ids);
        Assert.Equal(theirs.Offsets, ours.Offsets);
        Assert.Equal(text, ours.Text);
    }

    [Theory]
    [MemberData(nameof(Texts))]
    public void The_library_contract_gives_the_same_ids_and_text_as_our_own_api(string text)
    {
        var ours = Through(Gpt2, text);
        Assert.Equal(Gpt2.Encode(text, allowSpecialTokens: true), ours.Ids);
        Assert.Equal(Gpt2.Decode(ours.Ids), ours.Text);
        Assert.Equal(ours.Ids, Gpt2.EncodeToIds(text));
        Assert.Equal(ours.Ids.Length, Gpt2.CountTokens(text));
    }

    [Fact]
    public void Token_values_are_the_vocabulary_spellings()
    {
        var tokens = Gpt2.EncodeToTokens(" Hello world", out _);
        Assert.Equal(["ĠHello", "Ġworld"], tokens.Select(t => t.Value));
    }

    [Theory]
    [InlineData("日本語 😀 x, hello there", 1)]
    [InlineData("日本語 😀 x, hello there", 2)]
    [InlineData("日本語 😀 x, hello there", 7)]
    [InlineData("Hello world, it's 2026!", 4)]
    public void A_token_limit_never_splits_a_character_and_says_how_much_text_it_took(string text, int limit)
    {
        var ours = Gpt2.EncodeToIds(text, limit, out _, out int oursConsumed);
        var theirs = Tiktoken.EncodeToIds(text, limit, out _, out int theirsConsumed);
        Assert.Equal(theirs, ours);
        Assert.Equal(theirsConsumed, oursConsumed);
    }

    [Fact]
    public void Decoding_into_a_short_span_stops_at_a_whole_character_and_continues_from_there()
    {
        string text = "床前明月光 😀 moonlight";
        int[] ids = Gpt2.Encode(text);
        var decoded = new System.Text.StringBuilder();
        var buffer = new char[5]; // the longest token here is " moon"
        int at = 0;
        while (at < ids.Length)
        {
            var status = Gpt2.Decode(ids[at..], buffer, out int consumed, out int written);
            Assert.True(consumed > 0, "a span of 5 characters holds any one token's text here");
            decoded.Append(buffer, 0, written);
            at += consumed;
            if (status == OperationStatus.Done) Assert.Equal(ids.Length, at);
        }
        Assert.Equal(text, decoded.ToString());
    }

    [Fact]
    public void WordPiece_through_the_library_contract_gives_the_libraries_bert_ids_and_offsets_in_the_text()
    {
        string[] vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "run", "##ning",
                          "床", "前", "hello", "world", ",", "!", "cafe", "a", "##b"];
        string file = Path.GetTempFileName();
        File.WriteAllLines(file, vocab);
        try
        {
            var ours = new WordPieceTokenizer(vocab, new BasicTokenizer(lowerCase: true));
            var bert = BertTokenizer.Create(file,
                                            new BertOptions { LowerCaseBeforeTokenization = true,
                                                              RemoveNonSpacingMarks = true });
            string text = "Unaffable  running, hello床前 world! Café ab xyz";
            var theirs = bert.EncodeToIds(text, addSpecialTokens: false);
            var tokens = ((MlTokenizer)ours).EncodeToTokens(text, out _);
            Assert.Equal(theirs, tokens.Select(t => t.Id));
            string[] spans = tokens.Select(t => text[t.Offset]).ToArray();
            Assert.Equal(["Un", "aff", "able", "run", "ning", ",", "hello", "床", "前", "world", "!", "Café", "a", "b",
                          "xyz"], spans);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
