using Gpt2Onnx.Runtime.Tokenizers;
using GenAi = Microsoft.ML.OnnxRuntimeGenAI;

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// onnxruntime-genai's Tokenizer (onnxruntime-extensions) reads the tokenizer.json and tokenizer_config.json an
/// export writes: for byte-level BPE it gives this runtime's ids on hard texts and decodes them back to the text
/// (WordPiece it cannot read: README, "Running an export with onnxruntime-genai").
/// </summary>
[Collection(GenAiCollection.Name)]
public sealed class TokenizerTests(TinyExports exports)
{
    /// <summary>Where byte-level BPE implementations part: the pre-tokenizer's pattern, bytes of each width,
    /// spaces.</summary>
    public static readonly TheoryData<string> HardTexts =
    [
        "Hello world, hello model.",
        "don't DON'T I'm we'll they'd you've she's 'S 'LL",            // contractions, in both cases
        "   three leading spaces, two between  words and trailing   ",  // a space run keeps its last space for the word
        "tabs\t\tand\nnew\n\nlines\r\nand a final newline\n",
        "\u00a0no-break\u2003em space\u3000ideographic space\u200bzero width",
        "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",                // CJK and full-width punctuation
        "日本語のテキストと한국어 텍스트",
        "emoji 🙂👍🏽 👨‍👩‍👧‍👦 🇯🇵 flags and a keycap 1️⃣",                 // modifiers, ZWJ sequences, regional indicators
        "café naïve Ünïcödé e\u0301 combining a\u0308\u0304",           // precomposed and combining marks
        "numbers 1234567890 3.14159 ١٢٣ ४२ 1,000,000",                 // digits of other scripts
        "symbols <>[]{}()!@#$%^&*_+=~`|\\/?;:\"'",
        "control\u0001\u0007\u001b[0m characters and \u007f",
        "x",
        "",
    ];

    [Theory]
    [MemberData(nameof(HardTexts))]
    public void GenAis_encoding_of_gpt2s_vocabulary_is_ours(string text) => EncodesAsOurs(exports.Gpt2, text);

    [Theory]
    [MemberData(nameof(HardTexts))]
    public void GenAis_encoding_of_a_trained_bpe_vocabulary_is_ours(string text) =>
        EncodesAsOurs(exports.Bpe(Exporter.Graphs.GraphVariant.Fused, Exporter.Graphs.Precision.Int4), text);

    [Theory]
    [MemberData(nameof(HardTexts))]
    public void GenAi_decodes_our_ids_back_to_the_text(string text)
    {
        string folder = exports.Gpt2;
        int[] ids = Tokenizer.Load(folder).Encode(text);
        using var model = new GenAi.Model(folder);
        using var tokenizer = new GenAi.Tokenizer(model);

        Assert.Equal(text, tokenizer.Decode(ids));
    }

    [Fact]
    public void GenAi_reads_the_end_of_text_token_from_the_export()
    {
        string folder = exports.Gpt2;
        using var model = new GenAi.Model(folder);
        using var tokenizer = new GenAi.Tokenizer(model);

        Assert.Equal([50256], tokenizer.GetEosTokenIds().ToArray());
    }

    private static void EncodesAsOurs(string folder, string text)
    {
        using var model = new GenAi.Model(folder);
        using var tokenizer = new GenAi.Tokenizer(model);
        using var sequences = tokenizer.Encode(text);

        Assert.Equal(Tokenizer.Load(folder).Encode(text), sequences[0].ToArray());
    }
}
