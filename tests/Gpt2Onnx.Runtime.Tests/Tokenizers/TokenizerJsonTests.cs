using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

/// <summary>tokenizer.json alone, as Hugging Face's fast tokenizer writes GPT-2's: the same ids as vocab.json +
/// merges.txt.</summary>
public sealed class TokenizerJsonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>GPT-2's tokenizer.json built from the installed vocab.json and merges.txt; merges as "a b" strings or
    /// [a, b] pairs.</summary>
    private string WriteTokenizerJson(bool pairs, Action<JsonObject>? edit = null)
    {
        var gpt2 = BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer);
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "vocab.json")))!;
        var merges = new JsonArray(gpt2.Merges.Select(m => pairs ? (JsonNode)new JsonArray(m.Left, m.Right) : m.Left
                                                      + " " + m.Right).ToArray());
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 50256, ["content"] = "<|endoftext|>",
                                                              ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false,
                                                 ["trim_offsets"] = true, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["vocab"] = vocab,
                                         ["merges"] = merges },
        };
        edit?.Invoke(root);
        string folder = Path.Combine(_dir, pairs ? "pairs" : "strings");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), root.ToJsonString());
        return folder;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gpt2s_tokenizer_json_encodes_like_its_vocab_and_merges(bool pairs)
    {
        var expected = BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer);
        var tokenizer = Tokenizer.Load(WriteTokenizerJson(pairs));
        Assert.Equal(expected.EndOfTextId, tokenizer.EndOfTextId);
        var texts = Directory.GetFiles(RepositoryPaths.BrownCorpus).Order(StringComparer.Ordinal).Take(5)
            .Select(File.ReadAllText)
            .Append("don't DON'T  emoji 👍🏽 床前明月光 <|endoftext|> \u00a0end").ToList();
        foreach (var text in texts)
        {
            Assert.Equal(expected.Encode(text), tokenizer.Encode(text));
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Theory]
    [InlineData("pre_tokenizer", """{"type": "Whitespace"}""", "its pre-tokenizer is not ByteLevel")]
    [InlineData("pre_tokenizer", """{"type": "ByteLevel", "add_prefix_space": true}""", "it adds a prefix space")]
    [InlineData("normalizer", """{"type": "NFC"}""", "it normalizes text (NFC)")]
    public void A_tokenizer_json_that_is_not_gpt2s_byte_level_bpe_is_refused_by_what_differs(string key, string value,
        string expected)
    {
        string folder = WriteTokenizerJson(pairs: false, root => root[key] = JsonNode.Parse(value));
        var error = Assert.Throws<Gpt2OnnxException>(() => Tokenizer.Load(folder)).Message;
        Assert.Contains(expected, error);
        Assert.Contains("not GPT-2's byte-level BPE tokenizer", error);
    }
}
