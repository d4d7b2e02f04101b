using System.Text;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Tokenizers;

/// <summary>
/// Learns a WordPiece vocabulary (vocab.txt): the special tokens, every character seen at least
/// <c>minFrequency</c> times (a character that starts a word as itself, one inside a word as "##c"),
/// then the most frequent merges, as Hugging Face's WordPiece trainer does. CJK characters are words on
/// their own, so on Chinese text the result is a character-level vocabulary.
/// </summary>
public static class WordPieceTrainer
{
    public static WordPieceTokenizer Train(IEnumerable<string> texts, int vocabSize, long minFrequency = 1,
                                           bool lowerCase = false)
    {
        var specials = WordPieceTokenizer.DefaultSpecialTokens;
        if (vocabSize <= specials.Length)
            throw new Gpt2OnnxException($"a WordPiece vocabulary needs more than its {specials.Length} special " +
                                        $"tokens, not {vocabSize}");
        var basic = new BasicTokenizer(lowerCase);
        var wordCounts = CountWords(texts, basic);

        var symbolCounts = new Dictionary<string, long>();
        var spelled = new List<(string[] Symbols, long Count)>(wordCounts.Count);
        foreach (var (word, count) in wordCounts.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var symbols = new List<string>();
            foreach (var rune in word.EnumerateRunes())
                symbols.Add(symbols.Count == 0 ? rune.ToString() : WordPieceTokenizer.Continuation + rune);
            foreach (var s in symbols) symbolCounts[s] = symbolCounts.GetValueOrDefault(s) + count;
            spelled.Add((symbols.ToArray(), count));
        }

        // The alphabet: frequent characters first, as many as fit.
        var alphabet = symbolCounts.Where(p => p.Value >= minFrequency)
            .OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => p.Key).Where(s => !specials.Contains(s))
            .Take(vocabSize - specials.Length).ToList();
        var symbolsList = new List<string>(specials);
        var index = new Dictionary<string, int>();
        foreach (var s in alphabet)
        {
            index[s] = symbolsList.Count;
            symbolsList.Add(s);
        }
        // Words with a character left out of the alphabet become [UNK] whole, so they teach no merges.
        var words = spelled.Where(w => w.Symbols.All(index.ContainsKey))
            .Select(w => (w.Symbols.Select(s => index[s]).ToArray(), w.Count)).ToList();

        var merger = new PairMerger(symbolsList, words, Join);
        merger.Run(vocabSize - symbolsList.Count, Math.Max(minFrequency, 1));

        // Two merges can spell the same token ("a" + "##bc" and "ab" + "##c"); keep the first.
        var unique = symbolsList.Distinct(StringComparer.Ordinal).ToList();
        return new WordPieceTokenizer(unique, basic);
    }

    /// <summary>Writes vocab.txt and tokenizer_config.json (each atomically) into <paramref
    /// name="directory"/>.</summary>
    public static void Save(WordPieceTokenizer tokenizer, string directory)
    {
        Directory.CreateDirectory(directory);
        TokenizerFiles.WriteTextAtomically(Path.Combine(directory, "vocab.txt"), writer =>
        {
            foreach (var token in tokenizer.Tokens) writer.WriteLine(token);
        });
        AtomicFile.Write(Path.Combine(directory, "tokenizer_config.json"), stream =>
        {
            using var writer = new System.Text.Json.Utf8JsonWriter(stream,
                new System.Text.Json.JsonWriterOptions { Indented = true });
            writer.WriteStartObject();
            writer.WriteString("tokenizer_class", "BertTokenizer");
            writer.WriteBoolean("do_lower_case", tokenizer.LowerCase);
            writer.WriteString("unk_token", "[UNK]");
            writer.WriteString("pad_token", "[PAD]");
            writer.WriteString("cls_token", "[CLS]");
            writer.WriteString("sep_token", "[SEP]");
            writer.WriteString("mask_token", "[MASK]");
            writer.WriteString("eos_token", tokenizer.IdToToken(tokenizer.EndOfTextId));
            writer.WriteEndObject();
        });
    }

    private static string Join(string left, string right) =>
        right.StartsWith(WordPieceTokenizer.Continuation, StringComparison.Ordinal)
            ? left + right[WordPieceTokenizer.Continuation.Length..]
            : left + right;

    private static Dictionary<string, long> CountWords(IEnumerable<string> texts, BasicTokenizer basic) =>
        ParallelCounter.Count(texts, (text, counts) =>
        {
            var words = new List<string>();
            basic.Split(text, words);
            foreach (var word in words) counts[word] = counts.GetValueOrDefault(word) + 1;
        });
}
