using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Trainer.Tests;

public class TokenizerTrainingTests
{
    private static readonly string[] Corpus =
    [
        "the cat sat on the mat. the cat ate the rat.",
        "then the cat sat on the hat, and the rat ran.",
        "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",
    ];

    [Fact]
    public void BPE_learns_the_most_frequent_pair_first()
    {
        // "a" + "t" occurs 10 times (cat ×3, sat ×2, rat ×2, mat, ate, hat), more than "t" + "h" and
        // "h" + "e" (9 each) or any other pair: it is the first merge.
        var bpe = BpeTrainer.Train(Corpus, vocabSize: 270);
        Assert.Equal(("a", "t"), bpe.Merges[0]);
        Assert.Equal(270, bpe.VocabSize);
        Assert.Equal(269, bpe.EndOfTextId);
    }

    [Fact]
    public void A_trained_BPE_vocabulary_round_trips_any_text_and_compresses_its_corpus()
    {
        var bpe = BpeTrainer.Train(Corpus, vocabSize: 300);
        foreach (var text in Corpus.Append("unseen words 😀 and 中文"))
            Assert.Equal(text, bpe.Decode(bpe.Encode(text)));
        int bytes = System.Text.Encoding.UTF8.GetByteCount(Corpus[0]);
        Assert.True(bpe.Encode(Corpus[0]).Length < bytes / 2);
    }

    [Fact]
    public void A_saved_BPE_vocabulary_loads_back_to_the_same_tokenizer()
    {
        var bpe = BpeTrainer.Train(Corpus, vocabSize: 300);
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            bpe.Save(dir);
            var loaded = Tokenizer.Load(dir);
            Assert.IsType<BpeTokenizer>(loaded);
            Assert.Equal(bpe.Encode(Corpus[1]), loaded.Encode(Corpus[1]));
            Assert.Equal(bpe.VocabSize, loaded.VocabSize);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void BPE_training_is_deterministic()
    {
        var a = BpeTrainer.Train(Corpus, vocabSize: 300);
        var b = BpeTrainer.Train(Corpus.Reverse(), vocabSize: 300);
        Assert.Equal(a.Merges, b.Merges);
    }

    [Fact]
    public void WordPiece_on_Chinese_is_character_level_and_respects_min_frequency()
    {
        var wp = WordPieceTrainer.Train([Corpus[2]], vocabSize: 1000, minFrequency: 2);
        // Only 明, 月, 頭, "，" and "。" occur twice; every other character falls below the minimum.
        var learned = wp.Tokens.Except(WordPieceTokenizer.DefaultSpecialTokens).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["。", "明", "月", "頭", "，"], learned);
        Assert.Equal(["明", "月", "[UNK]"], wp.Encode("明月光").Select(wp.IdToToken));
    }

    [Fact]
    public void WordPiece_learns_continuations_for_words()
    {
        var wp = WordPieceTrainer.Train(Corpus.Take(2), vocabSize: 60, minFrequency: 1);
        Assert.Contains("##a", wp.Tokens);
        Assert.Equal("the cat sat on the mat.", wp.Decode(wp.Encode("the cat sat on the mat.")));
    }

    [Fact]
    public void A_saved_WordPiece_vocabulary_loads_back_to_the_same_tokenizer()
    {
        var wp = WordPieceTrainer.Train(Corpus, vocabSize: 80);
        string dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            WordPieceTrainer.Save(wp, dir);
            var loaded = Tokenizer.Load(dir);
            Assert.Equal(wp.Tokens, ((WordPieceTokenizer)loaded).Tokens);
            Assert.Equal(wp.EndOfTextId, loaded.EndOfTextId);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
