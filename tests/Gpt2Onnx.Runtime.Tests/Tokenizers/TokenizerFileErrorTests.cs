using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public sealed class TokenizerFileErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void CopyGpt2(string? vocab = null, string? merges = null)
    {
        File.WriteAllText(Path.Combine(_dir, "vocab.json"),
                          vocab ?? File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "vocab.json")));
        File.WriteAllText(Path.Combine(_dir, "merges.txt"),
                          merges ?? File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "merges.txt")));
    }

    private string LoadError() => Assert.Throws<Gpt2OnnxException>(() => Tokenizer.Load(_dir)).Message;

    [Theory]
    [InlineData("")]
    [InlineData("#version: 0.2\n")]
    public void A_merges_txt_without_merges_beside_a_vocabulary_that_needs_them_is_refused(string merges)
    {
        // It loaded, and text was encoded byte by byte into ids the model never saw together.
        CopyGpt2(merges: merges);
        Assert.Contains("merges.txt holds no merges, but", LoadError());
        Assert.Contains("vocab.json has 50000 tokens of several bytes that only merges make", LoadError());
    }

    [Fact]
    public void A_byte_level_vocabulary_without_merges_needs_none()
    {
        var tokenizer = Gpt2Onnx.Trainer.Tokenizers.BpeTrainer.Train(["ab"], vocabSize: 257);
        tokenizer.Save(_dir);
        Assert.Equal(257, Tokenizer.Load(_dir).VocabSize);
    }

    [Fact]
    public void A_truncated_vocab_json_is_reported()
    {
        string json = File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "vocab.json"));
        CopyGpt2(vocab: json[..(json.Length / 2)]);
        Assert.Contains("vocab.json", LoadError());
    }

    [Fact]
    public void A_vocab_json_token_that_is_not_text_is_reported()
    {
        CopyGpt2(vocab: "{\"\\ud800\": 0}");
        Assert.Contains("vocab.json: not valid JSON (a string is not text", LoadError());
    }

    [Fact]
    public void A_vocab_json_that_is_not_an_object_is_reported()
    {
        CopyGpt2(vocab: "[1, 2, 3]");
        Assert.Contains("expected a JSON object", LoadError());
    }

    [Fact]
    public void A_vocab_with_a_gap_in_its_ids_is_reported()
    {
        CopyGpt2(vocab: "{\"a\": 0, \"b\": 2}", merges: "#version: 0.2\n");
        Assert.Contains("no token has the id 1", LoadError());
    }

    [Fact]
    public void A_malformed_merges_line_is_reported_with_its_line_number()
    {
        string merges = File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "merges.txt"));
        CopyGpt2(merges: merges.Replace("\nĠ a\n", "\nĠ a b\n"));
        var message = LoadError();
        Assert.Contains("merges.txt:", message);
        Assert.Contains("two symbols", message);
    }

    [Fact]
    public void A_merge_naming_an_unknown_symbol_is_reported()
    {
        string merges = File.ReadAllText(Path.Combine(RepositoryPaths.Gpt2Tokenizer, "merges.txt"));
        CopyGpt2(merges: merges + "zzzunknown q\n");
        Assert.Contains("not in the vocabulary", LoadError());
    }

    [Fact]
    public void A_vocab_txt_with_an_empty_line_is_reported()
    {
        File.WriteAllText(Path.Combine(_dir, "vocab.txt"), "[PAD]\n[UNK]\n\n[SEP]\n");
        Assert.Contains("vocab.txt:3", LoadError());
    }

    [Fact]
    public void A_folder_without_tokenizer_files_is_reported() =>
        Assert.Contains("holds no tokenizer", LoadError());

    [Fact]
    public void A_tokenizer_json_without_a_vocabulary_is_reported()
    {
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"),
                          "{\"model\": {\"type\": \"BPE\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
        Assert.Contains("model.vocab is missing or not an object of token → id", LoadError());
    }

    [Fact]
    public void A_missing_merges_file_is_reported()
    {
        CopyGpt2();
        File.Delete(Path.Combine(_dir, "merges.txt"));
        Assert.Contains("merges.txt is missing", LoadError());
    }
}
