using System.Text.Json;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

/// <summary>
/// Both tokenizers against the Rust tokenizers library itself (0.23.2, Hugging Face's reference), whose ids
/// for 1,200 random multi-script texts are committed in Reference/HuggingFace (made by
/// scripts/reference/hf_reference.py from texts by scripts/reference/make_texts.py): GPT-2's byte-level BPE,
/// and BERT's WordPiece under each setting tokenizer_config.json can give.
/// </summary>
public class HuggingFaceTokenizerFixtureTests
{
    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Reference", "HuggingFace");

    private static JsonElement Read(string file) => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, file))).RootElement;

    private static string Describe(string text) =>
        string.Join(" ", text.EnumerateRunes().Select(r => $"U+{r.Value:X4}"));

    private static void AssertSameIds(ITokenizer ours, JsonElement texts, JsonElement expectedIds, string setting)
    {
        Assert.Equal(texts.GetArrayLength(), expectedIds.GetArrayLength());
        var differences = new List<string>();
        for (int i = 0; i < texts.GetArrayLength(); i++)
        {
            string text = texts[i].GetString()!;
            var expected = expectedIds[i].EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var actual = ours.Encode(text);
            if (!expected.SequenceEqual(actual))
                differences.Add($"text {i} ({Describe(text)}): Hugging Face gives {string.Join(" ", expected)}, ours {string.Join(" ", actual)}");
        }
        Assert.True(differences.Count == 0, $"{setting}: {differences.Count} of {texts.GetArrayLength()} texts differ; {string.Join("; ", differences.Take(5))}");
    }

    [Fact]
    public void Gpt2_bpe_gives_the_ids_of_the_rust_tokenizers_library()
    {
        var fixture = Read("bpe-gpt2.json");
        AssertSameIds(Tokenizer.Load(RepositoryPaths.Gpt2Tokenizer), fixture.GetProperty("texts"), fixture.GetProperty("ids"), "GPT-2 BPE");
    }

    [Theory]
    [InlineData("lowercase")]
    [InlineData("cased")]
    [InlineData("lowercase-keep-accents")]
    [InlineData("cased-strip-accents")]
    [InlineData("lowercase-no-cjk-split")]
    public void Wordpiece_gives_the_ids_of_the_rust_tokenizers_library(string setting)
    {
        var fixture = Read("wordpiece.json");
        var options = fixture.GetProperty("settings").GetProperty(setting).GetProperty("options");
        bool? stripAccents = options.GetProperty("strip_accents").ValueKind == JsonValueKind.Null ? null : options.GetProperty("strip_accents").GetBoolean();
        var basic = new BasicTokenizer(options.GetProperty("lowercase").GetBoolean(), stripAccents, options.GetProperty("handle_chinese_chars").GetBoolean());
        var ours = new WordPieceTokenizer(TokenizerFiles.ReadVocabTxt(Path.Combine(Fixtures, "wordpiece-vocab.txt")), basic);
        AssertSameIds(ours, fixture.GetProperty("texts"), fixture.GetProperty("settings").GetProperty(setting).GetProperty("ids"), setting);
    }
}
