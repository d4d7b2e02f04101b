using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

/// <summary>
/// Both tokenizers against the Rust tokenizers library itself (0.23.2, Hugging Face's reference), whose ids
/// for 1,200 random multi-script texts are committed in Reference/HuggingFace (made by
/// scripts/reference/hf_reference.py from texts by scripts/reference/make_texts.py): GPT-2's byte-level BPE,
/// and BERT's WordPiece under each setting tokenizer_config.json can give; and BERT tokenizer folders as
/// transformers 5 saves them (tokenizer.json and tokenizer_config.json only).
/// </summary>
public sealed class HuggingFaceTokenizerFixtureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Reference", "HuggingFace");

    private static JsonElement Read(string file) =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, file))).RootElement;

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
                differences.Add($"text {i} ({Describe(text)}): Hugging Face gives {string.Join(" ", expected)}, ours " +
                                $"{string.Join(" ", actual)}");
        }
        Assert.True(differences.Count == 0,
                    $"{setting}: {differences.Count} of {texts.GetArrayLength()} texts differ; " +
                    $"{string.Join("; ", differences.Take(5))}");
    }

    [Fact]
    public void Gpt2_bpe_gives_the_ids_of_the_rust_tokenizers_library()
    {
        var fixture = Read("bpe-gpt2.json");
        AssertSameIds(Tokenizer.Load(RepositoryPaths.Gpt2Tokenizer), fixture.GetProperty("texts"),
                      fixture.GetProperty("ids"), "GPT-2 BPE");
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
        bool? stripAccents = options.GetProperty("strip_accents").ValueKind == JsonValueKind.Null
            ? null : options.GetProperty("strip_accents").GetBoolean();
        var basic = new BasicTokenizer(options.GetProperty("lowercase").GetBoolean(), stripAccents,
                                       options.GetProperty("handle_chinese_chars").GetBoolean());
        var ours = new WordPieceTokenizer(TokenizerFiles.ReadVocabTxt(Path.Combine(Fixtures, "wordpiece-vocab.txt")),
                                          basic);
        AssertSameIds(ours, fixture.GetProperty("texts"),
                      fixture.GetProperty("settings").GetProperty(setting).GetProperty("ids"), setting);
    }

    [Theory]
    [InlineData("transformers5-bert-lower", "lowercase")]
    [InlineData("transformers5-bert-cased", "cased")]
    public void A_bert_tokenizer_saved_by_transformers_5_loads_from_its_tokenizer_json(string folder, string setting)
    {
        var tokenizer = Tokenizer.Load(Path.Combine(Fixtures, folder));
        Assert.Equal(TokenizerFiles.ReadVocabTxt(Path.Combine(Fixtures, "wordpiece-vocab.txt")),
                     ((WordPieceTokenizer)tokenizer).Tokens);
        var fixture = Read("wordpiece.json");
        AssertSameIds(tokenizer, fixture.GetProperty("texts"),
                      fixture.GetProperty("settings").GetProperty(setting).GetProperty("ids"), folder);
    }

    /// <summary>The lower-cased folder with its tokenizer.json edited by <paramref name="edit"/> and
    /// tokenizer_config.json replaced by <paramref name="config"/>.</summary>
    private string EditedBertFolder(Action<System.Text.Json.Nodes.JsonObject> edit, string? config = null)
    {
        string source = Path.Combine(Fixtures, "transformers5-bert-lower");
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(source,
                                                                                       "tokenizer.json")))!.AsObject();
        edit(json);
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"), json.ToJsonString());
        File.WriteAllText(Path.Combine(_dir, "tokenizer_config.json"),
                          config ?? File.ReadAllText(Path.Combine(source, "tokenizer_config.json")));
        return _dir;
    }

    [Fact]
    public void Tokenizer_config_settings_change_the_normalizer_as_transformers_applies_them()
    {
        var cased = Tokenizer.Load(EditedBertFolder(_ => { }, """{"do_lower_case": false}"""));
        var fixture = Read("wordpiece.json");
        AssertSameIds(cased, fixture.GetProperty("texts"),
                      fixture.GetProperty("settings").GetProperty("cased").GetProperty("ids"),
                      "do_lower_case false over a lower-casing normalizer");
        var lower = Tokenizer.Load(EditedBertFolder(_ => { }, "{}"));
        Assert.True(((WordPieceTokenizer)lower).LowerCase); // nothing said: the normalizer's own setting
    }

    public static TheoryData<string, string> Unsupported => new()
    {
        { "prefix", "continuation prefix" },
        { "prefix-number", "continuation prefix" },
        { "longest", "longest word" },
        { "normalizer", "normalizer" },
        { "clean", "control characters" },
        { "pre", "pre-tokenizer" },
        { "gap", "must have the ids" },
        { "added", "added token" },
    };

    [Theory]
    [MemberData(nameof(Unsupported))]
    public void A_wordpiece_tokenizer_json_this_project_cannot_reproduce_is_refused_by_what_differs(string change,
        string expected)
    {
        string folder = EditedBertFolder(json =>
        {
            var model = json["model"]!.AsObject();
            switch (change)
            {
                case "prefix": model["continuing_subword_prefix"] = "@@"; break;
                case "prefix-number": model["continuing_subword_prefix"] = 2; break;
                case "longest": model["max_input_chars_per_word"] = 200; break;
                case "normalizer": json["normalizer"] = null; break;
                case "clean": json["normalizer"]!["clean_text"] = false; break;
                case "pre": json["pre_tokenizer"] =
                    new System.Text.Json.Nodes.JsonObject { ["type"] = "Whitespace" }; break;
                case "gap": model["vocab"]!["[PAD]"] = 5000; break;
                case "added": json["added_tokens"]!.AsArray()
                    .Add(new System.Text.Json.Nodes.JsonObject { ["id"] = 3000, ["content"] = "<new>",
                                                                 ["special"] = true }); break;
            }
        });
        var error = Assert.Throws<Gpt2OnnxException>(() => Tokenizer.Load(folder));
        Assert.Contains(expected, error.Message);
        Assert.Contains("tokenizer.json", error.Message);
    }
}
