using System.Buffers.Binary;
using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Corpus files read as pieces cut between words: the same ids as the whole text, in bounded memory.</summary>
public sealed class CorpusReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Root() => RepositoryRoot.Path;

    private static string Sample()
    {
        string[] joins = [" ", "  ", "\n", "\n\n", "\r\n", "\t", " \n ", "\n \n", "\u3000", "\u00a0", "x\ny", " 's ",
                          "don't it's 1,000 3.14 😀 "];
        var text = new StringBuilder();
        var files = Directory.GetFiles(Path.Combine(Root(), ".deps", "data", "brown"), "c*")
            .Order(StringComparer.Ordinal).Take(12).ToList();
        for (int i = 0; i < files.Count; i++)
        {
            text.Append(CorpusReader.StripBrownTags(File.ReadAllText(files[i])));
            text.Append(joins[i % joins.Length]).Append("床前明月光，\n疑是地上霜。").Append(joins[(i + 5) % joins.Length]);
        }
        return text.ToString();
    }

    private static IEnumerable<string> Chunks(string text, int size)
    {
        for (int i = 0; i < text.Length; i += size) yield return text.Substring(i, Math.Min(size, text.Length - i));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("wordpiece")]
    public void Pieces_cut_between_words_encode_to_the_ids_of_the_whole_text(string kind)
    {
        string text = Sample();
        ITokenizer tokenizer = kind == "gpt2"
            ? BpeTokenizer.Load(Path.Combine(Root(), "models", "gpt2-tokenizer"))
            : WordPieceTrainer.Train([text], vocabSize: 400);
        var pieces = CorpusReader.Split(Chunks(text, 777), pieceChars: 1000).ToList();
        Assert.True(pieces.Count > 100, $"{pieces.Count} pieces");
        Assert.Equal(text, string.Concat(pieces.Select(p => p.Text)));
        Assert.True(pieces[^1].EndsDocument);
        Assert.DoesNotContain(pieces.SkipLast(1), p => p.EndsDocument);
        Assert.Equal(tokenizer.Encode(text), pieces.SelectMany(p => tokenizer.Encode(p.Text)));
    }

    [Fact]
    public void A_text_file_larger_than_a_piece_prepares_to_the_ids_of_the_whole_file()
    {
        string text = Sample();
        while (text.Length <= CorpusReader.PieceChars) text += "\n" + text;
        string corpus = Path.Combine(_dir, "big.txt"), tokenizer = Path.Combine(Root(), "models", "gpt2-tokenizer");
        File.WriteAllText(corpus, text);
        var meta = DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus], TokenizerDirectory = tokenizer,
                                                             OutputDirectory = Path.Combine(_dir, "data"),
                                                             ValFraction = 0 });
        var gpt2 = BpeTokenizer.Load(tokenizer);
        var expected = gpt2.Encode(text).Append(gpt2.EndOfTextId).ToArray();
        var bytes = File.ReadAllBytes(Path.Combine(_dir, "data", "train.bin"));
        var written = Enumerable.Range(0, bytes.Length / 2)
            .Select(i => (int)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(2 * i))).ToArray();
        Assert.Equal(expected, written);
        Assert.Equal(1, meta.TrainDocuments);
        Assert.Equal(expected.Length, meta.TrainTokens);
    }

    [Fact]
    public void A_corpus_too_small_in_documents_to_hold_one_out_holds_out_the_end_of_its_tokens()
    {
        // One text file is one document: before, --val-fraction 0.1 held out none, and training ran without validation.
        string corpus = Path.Combine(_dir, "book.txt"), tokenizer = Path.Combine(Root(), "models", "gpt2-tokenizer");
        File.WriteAllText(corpus, Sample());
        ShardMeta Prepare(string name, double fraction) =>
            DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus], TokenizerDirectory = tokenizer,
                                                      OutputDirectory = Path.Combine(_dir, name),
                                                      ValFraction = fraction });
        var whole = Prepare("whole", 0);
        var split = Prepare("split", 0.1);
        Assert.Equal(("documents", 0L), (whole.ValSplit, whole.ValTokens));
        Assert.Equal("tail", split.ValSplit);
        Assert.Equal((long)Math.Round(whole.TrainTokens * 0.1), split.ValTokens);
        Assert.Equal(whole.TrainTokens, split.TrainTokens + split.ValTokens);
        Assert.Equal((1, 1), (split.TrainDocuments, split.ValDocuments)); // the book, cut in two
        byte[] Bytes(string name, string shard) => File.ReadAllBytes(Path.Combine(_dir, name, shard));
        Assert.Equal(Bytes("whole", "train.bin"), Bytes("split", "train.bin").Concat(Bytes("split", "val.bin")));
        Assert.Equal(split, ShardMeta.Load(Path.Combine(_dir, "split")));
        // Documents enough to hold some out: whole documents, as before.
        File.WriteAllText(Path.Combine(_dir, "second.txt"), Sample());
        for (int i = 0; i < 9; i++) File.Copy(corpus, Path.Combine(_dir, $"more-{i}.txt"));
        var many = DataPreparer.Prepare(new PrepareOptions { Inputs = [Path.Combine(_dir, "*.txt")],
                                                             TokenizerDirectory = tokenizer,
                                                             OutputDirectory = Path.Combine(_dir, "many") });
        Assert.Equal(("documents", 1), (many.ValSplit, many.ValDocuments));
    }

    [Fact]
    public void A_JSONL_line_that_is_not_UTF8_and_a_poem_with_a_number_for_a_line_are_errors_naming_them()
    {
        string jsonl = Path.Combine(_dir, "c.jsonl");
        File.WriteAllBytes(jsonl, [.. "{\"text\": \"ok\"}\n{\"text\": \""u8, 0xFF, .. "\"}\n"u8]);
        Assert.Contains("c.jsonl:2: not UTF-8",
                        Assert.Throws<Gpt2OnnxException>(() => CorpusReader.ReadPieces(jsonl).ToList()).Message);
        string poems = Path.Combine(_dir, "p.json");
        File.WriteAllText(poems, "[{\"title\": \"t\", \"paragraphs\": [\"床前明月光，\", 5]}]");
        Assert.Contains("other than strings",
                        Assert.Throws<Gpt2OnnxException>(() => CorpusReader.ReadPieces(poems).ToList()).Message);
    }

    [Theory]
    [InlineData("utf-16", new byte[] { 0xFF, 0xFE, 0x61, 0x00, 0x00, 0xD8, 0x62, 0x00 })] // a high surrogate, then 'b'
    [InlineData("utf-16", new byte[] { 0xFE, 0xFF, 0x00, 0x61, 0xDC, 0x00 })] // a low surrogate alone
    [InlineData("utf-32", new byte[] { 0xFF, 0xFE, 0x00, 0x00, 0x00, 0xD8, 0x00, 0x00 })] // a surrogate as a code point
    public void Text_that_is_not_valid_in_its_byte_order_marked_encoding_is_refused(string encoding, byte[] bytes)
    {
        // Each bad code unit became U+FFFD, silently.
        string path = Path.Combine(_dir, encoding + ".txt");
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<Gpt2OnnxException>(() => CorpusReader.ReadPieces(path).ToList());
        Assert.Contains($"is not {encoding.ToUpperInvariant()} text", error.Message);
    }

    [Fact]
    public void Valid_UTF16_text_reads_as_its_characters()
    {
        string path = Path.Combine(_dir, "good.txt");
        File.WriteAllBytes(path, [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("床前 moon 😀")]);
        Assert.Equal("床前 moon 😀", string.Concat(CorpusReader.ReadPieces(path).Select(p => p.Text)));
    }

    [Fact]
    public void Shards_written_over_their_own_tokenizer_are_refused_before_any_work()
    {
        string tokenizer = Path.Combine(_dir, "tokenizer"), corpus = Path.Combine(_dir, "a.txt");
        BpeTrainer.Train(["the quick brown fox"], vocabSize: 260).Save(tokenizer);
        File.WriteAllText(corpus, "the quick brown fox");
        var options = new PrepareOptions { Inputs = [corpus], TokenizerDirectory = tokenizer, OutputDirectory = _dir };
        var error = Assert.Throws<Gpt2OnnxException>(() => DataPreparer.Prepare(options));
        Assert.Contains($"--out {_dir} holds the --input {corpus}", error.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "train.bin")));
        options = options with { OutputDirectory = tokenizer };
        error = Assert.Throws<Gpt2OnnxException>(() => DataPreparer.Prepare(options));
        Assert.Contains("is the --tokenizer", error.Message);
    }
}
