using System.Text;
using Gpt2Onnx.Runtime.Tests.Reference;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

/// <summary>
/// WordPiece against tokenizers.js, Hugging Face's tokenizers in JavaScript, under each setting
/// tokenizer_config.json can give. The texts leave out the one place where tokenizers.js departs from the
/// Rust tokenizers, which this tokenizer follows: it does not split CJK ideographs outside the BMP (they do).
/// HuggingFaceTokenizerFixtureTests compares with the Rust library itself.
/// </summary>
public class WordPieceReferenceTests
{
    private static readonly Lazy<(WordPieceTokenizer Tokenizer, string[] Brown)> Trained = new(() =>
    {
        var brown = Directory.GetFiles(RepositoryPaths.BrownCorpus).Order(StringComparer.Ordinal).Take(60)
            .Select(File.ReadAllText).ToArray();
        var tokenizer = WordPieceTrainer.Train([.. brown, "床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。"], vocabSize: 3000);
        return (tokenizer, brown);
    });

    /// <summary>Random texts built from words of the vocabulary and every kind of character BERT's rules treat
    /// apart.</summary>
    private static string[] RandomTexts(int count, int seed)
    {
        var random = new Random(seed);
        var words = Trained.Value.Tokenizer.Tokens.Where(t => t.All(char.IsAsciiLetter)).ToArray();
        string Pick(params string[] choices) => choices[random.Next(choices.Length)];
        Func<string>[] pieces =
        [
            () => Pick(words), () => Pick(words).ToUpperInvariant(), () =>
                char.ToUpperInvariant(Pick(words)[0]) + Pick(words), () => " ",
            () => Pick("\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u2003", "\u0085", "\v", "\f",
                       "\u001c"),
            () => Pick("é", "ñ", "Å", "ü", "ç", "É", "e\u0301", "n\u0303", "ǅ", "ß", "ẞ", "İ", "ı", "K", "Ω", "ﬁ", "Ⅻ",
                       "①", "½", "a\U0001D167"),
            () => Pick(",", ".", "!", "?", "'", "\"", "-", "(", ")", "[", "]", "$", "%", "^", "`", "~", "|", "<", ">",
                       "_", "@", "#"),
            () => Pick("—", "–", "…", "«", "»", "“", "”", "‘", "’", "、", "。", "，", "！", "（", "）", "「", "」", "¿", "¡",
                       "·", "§", "©", "°", "€"),
            () => Pick("床", "前", "明", "月", "光", "疑", "是", "地", "霜", "中", "国", "\uF900", "\u3400"),
            () => Pick("한국어", "ひらがな", "カタカナ", "Ελληνικά", "русский", "עברית", "العربية", "हिन्दी", "ไทย"),
            () => Pick("😀", "👍🏽", "👨‍👩‍👧", "🇫🇷", "𝔘𝔫𝔦", "\U00010348"),
            () => Pick("\u0001", "\u001f", "\u200b", "\u200d", "\ufeff", "\u00ad", "\ue000", "\uf8ff", "\U000F0000",
                       "\u0000", "\ufffd", "\u0301", "\u20dd", "\u0378", "\U000E0080"),
            () => Pick("0", "1", "42", "3.14", "１２３", "٣", "²"),
            () => new string('x', random.Next(90, 110)), () =>
                string.Concat(Enumerable.Repeat("😀", random.Next(40, 110))),
            () => string.Concat(Enumerable.Repeat(Pick(words), 8)),
        ];
        return Enumerable.Range(0, count).Select(_ =>
        {
            var text = new StringBuilder();
            for (int n = random.Next(1, 13); n > 0; n--) text.Append(pieces[random.Next(pieces.Length)]());
            return text.ToString();
        }).ToArray();
    }

    [Theory]
    [InlineData(false, null, true, 1)]
    [InlineData(true, null, true, 2)]
    [InlineData(true, false, true, 3)]
    [InlineData(false, true, true, 4)]
    [InlineData(false, null, false, 5)]
    public void Random_multi_script_texts_encode_to_the_same_ids_as_Hugging_Face(bool lowerCase, bool? stripAccents,
                                                                                 bool splitCjk, int seed)
    {
        var tokens = Trained.Value.Tokenizer.Tokens;
        var ours = new WordPieceTokenizer(tokens, new BasicTokenizer(lowerCase, stripAccents, splitCjk));
        string[] texts = [.. RandomTexts(1000, seed), .. seed == 1 ? Trained.Value.Brown : []];
        var expected = BertReference.Encode(tokens, lowerCase, stripAccents, splitCjk, texts);
        for (int i = 0; i < texts.Length; i++)
            Assert.True(expected[i].SequenceEqual(ours.Encode(texts[i])),
                $"text {i} " +
                $"({string.Join(" ", texts[i].EnumerateRunes().Take(40).Select(r => $"U+{r.Value:X4}"))}...): " +
                $"tokenizers.js gives {string.Join(" ", expected[i])}, ours {string.Join(" ", ours.Encode(texts[i]))}");
    }
}
