using System.Text.Json.Nodes;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// Every export carries the tokenizer as Hugging Face's tokenizer.json and tokenizer_config.json (what
/// onnxruntime-genai and transformers read), and a folder holding only model.onnx, genai_config.json and
/// tokenizer.json (the layout GenAI's model builder writes) runs in this runtime as the whole export does.
/// </summary>
public sealed class TokenizerJsonExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] Corpus =
        ["the quick brown fox jumps over the lazy dog", "床前明月光，疑是地上霜。", "Héllo Wörld, hello MODEL: it's 42!"];

    private static readonly string[] Texts =
    [
        "the quick brown fox", "  Héllo   WÖRLD\tit's\n\n42 ", "床前明月光，emoji 🙂 and café", "unseen words: zebra ∑ ok",
    ];

    private string Checkpoint(string kind)
    {
        string folder = Path.Combine(_dir, "ckpt-" + kind);
        ITokenizer tokenizer = kind switch
        {
            "bpe" => BpeTrainer.Train(Corpus, vocabSize: 300),
            "gpt2" => Tokenizer.Load(Path.Combine(RepositoryRoot.Path, "models", "gpt2-tokenizer")),
            "wordpiece-cased" => WordPieceTrainer.Train(Corpus, vocabSize: 100),
            "wordpiece-lower" => WordPieceTrainer.Train(Corpus, vocabSize: 100, lowerCase: true),
            _ => throw new ArgumentException(kind),
        };
        var shape = TinyCheckpoint.Config(vocab: tokenizer.VocabSize, positions: 64, embd: 16, layers: 1, heads: 2);
        var config = shape with
        {
            BosTokenId = tokenizer.EndOfTextId, EosTokenId = tokenizer.EndOfTextId,
        };
        TinyCheckpoint.Write(folder, config, seed: 3);
        switch (tokenizer)
        {
            case BpeTokenizer bpe: bpe.Save(folder); break;
            case WordPieceTokenizer wordPiece: WordPieceTrainer.Save(wordPiece, folder); break;
        }
        return folder;
    }

    /// <summary>A copy of <paramref name="export"/> holding only <paramref name="files"/>.</summary>
    private string Only(string export, params string[] files)
    {
        string folder = Path.Combine(_dir, "only-" + Path.GetFileName(export));
        Directory.CreateDirectory(folder);
        foreach (var file in files) File.Copy(Path.Combine(export, file), Path.Combine(folder, file));
        return folder;
    }

    [Theory]
    [InlineData("bpe")]
    [InlineData("gpt2")]
    [InlineData("wordpiece-cased")]
    [InlineData("wordpiece-lower")]
    public void The_exports_tokenizer_json_gives_the_checkpoint_tokenizers_ids(string kind)
    {
        string checkpoint = Checkpoint(kind);
        string export = Path.Combine(_dir, "onnx-" + kind);
        OnnxExporter.Export(checkpoint, export, new ExportOptions());
        var expected = Tokenizer.Load(checkpoint);

        var fromJson = Tokenizer.Load(Only(export, "tokenizer.json", "tokenizer_config.json"));

        Assert.Equal(expected.GetType(), fromJson.GetType());
        Assert.Equal(expected.EndOfTextId, fromJson.EndOfTextId);
        foreach (var text in Texts)
        {
            Assert.Equal(expected.Encode(text), fromJson.Encode(text));
            Assert.Equal(expected.Decode(expected.Encode(text)), fromJson.Decode(fromJson.Encode(text)));
        }
    }

    [Theory]
    [InlineData("bpe", "GPT2Tokenizer")]
    [InlineData("wordpiece-lower", "BertTokenizer")]
    public void Tokenizer_config_names_the_class_and_special_tokens(string kind, string tokenizerClass)
    {
        string checkpoint = Checkpoint(kind);
        string export = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, export, new ExportOptions { Variant = GraphVariant.Fused });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "tokenizer_config.json")))!.AsObject();
        var tokenizer = Tokenizer.Load(checkpoint);

        Assert.Equal(tokenizerClass, config["tokenizer_class"]!.GetValue<string>());
        Assert.Equal(tokenizer.IdToToken(tokenizer.EndOfTextId), config["eos_token"]!.GetValue<string>());
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "tokenizer.json")))!;
        var added = json["added_tokens"]!.AsArray();
        Assert.Contains(added, t => t!["id"]!.GetValue<int>() == tokenizer.EndOfTextId
                        && t["special"]!.GetValue<bool>());
    }

    [Fact]
    public void A_checkpoints_own_tokenizer_config_keeps_its_entries_and_gains_the_class()
    {
        string checkpoint = Checkpoint("bpe");
        string own = """{"model_max_length": 64, "eos_token": "<|endoftext|>"}""";
        File.WriteAllText(Path.Combine(checkpoint, "tokenizer_config.json"), own);
        string export = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, export, new ExportOptions());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(export, "tokenizer_config.json")))!.AsObject();

        Assert.Equal(64, config["model_max_length"]!.GetValue<int>());
        Assert.Equal("GPT2Tokenizer", config["tokenizer_class"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("bpe", GraphVariant.Fused)]
    [InlineData("wordpiece-cased", GraphVariant.Portable)]
    public void The_runtime_runs_a_folder_of_model_genai_config_and_tokenizer_json(string kind, GraphVariant variant)
    {
        string export = Path.Combine(_dir, "onnx-" + kind);
        OnnxExporter.Export(Checkpoint(kind), export, new ExportOptions { Variant = variant });
        string builderLayout = Only(export, "model.onnx", "genai_config.json", "tokenizer.json");
        var request = new GenerationRequest
        {
            Prompt = "the quick brown 床前",
            Options = new SamplingOptions { Greedy = true, MinNewTokens = 20, MaxNewTokens = 20 },
        };

        GenerationResult Generate(string folder)
        {
            using var model = LanguageModel.Load(folder);
            using var generator = new Generator(model);
            return generator.Generate(request);
        }
        var expected = Generate(export);
        var actual = Generate(builderLayout);

        Assert.Equal(expected.PromptIds, actual.PromptIds);
        Assert.Equal(expected.TokenIds, actual.TokenIds);
        Assert.Equal(expected.Text, actual.Text);
    }
}
