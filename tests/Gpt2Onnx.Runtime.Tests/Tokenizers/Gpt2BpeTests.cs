using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.Runtime.Tests.Reference;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class Gpt2BpeTests
{
    private static readonly Lazy<BpeTokenizer> Gpt2 = new(() => BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer));

    private static readonly string[] HardCaseTexts =
    [
        "Hello world",
        "don't DON'T Don'T we'll WE'LL I'm I'M you're YOU'RE they've THEY'VE he'd HE'D it's IT'S",
        "'s 's 'S ''s '''ll",
        "digits 1 12 123 1234 12345 123456789012345678901234567890 3.14159 1,000,000",
        "runs of spaces:  two   three    four     five",
        "trailing spaces   ",
        "   leading spaces",
        " ",
        "\n\n\n",
        "line\r\nbreaks\r\n\r\nand\n\ttabs\t\t\tend\t",
        " \n a \n\n b",
        "emoji 👨‍👩‍👧‍👦 family, 👍🏽 skin tone, 🏳️‍🌈 flag, 😀😀😀",
        "combining: e\u0301 cafe\u0301 n\u0303 a\u0308\u0301",
        "CJK: 床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。",
        "日本語のテキスト、カタカナ、ひらがな",
        "Arabic: مرحبا بالعالم، كيف حالك؟",
        "Devanagari: नमस्ते दुनिया, यह एक परीक्षण है।",
        "<|endoftext|> is ordinary text here <|endoftext|>",
        "letters outside the BMP: 𝐀𝐁𝐂 𠀀𠀁 and digits 𝟘𝟙𝟚",
        "mixed12abc!!!???...---___",
        "URLs https://example.com/path?q=1&x=y#frag and emails a.b@c.de",
        "code: if (x != y) { return x->z[0]; } // comment",
        "\u00a0non-breaking\u00a0space and\u3000ideographic space",
        "\u200bzero width\u200b joiner\u200d",
        "",
    ];

    public static readonly TheoryData<string> HardCases = new(HardCaseTexts);

    // One node process for every hard case instead of one per case.
    private static readonly Lazy<Dictionary<string, int[]>> HardCaseReference = new(() =>
    {
        var ids = TiktokenReference.Encode(HardCaseTexts);
        return HardCaseTexts.Select((t, i) => (t, ids[i])).ToDictionary(p => p.t, p => p.Item2);
    });

    [Theory]
    [MemberData(nameof(HardCases))]
    public void Hard_cases_encode_to_the_same_ids_as_tiktoken(string text) =>
        Assert.Equal(HardCaseReference.Value[text], Gpt2.Value.Encode(text));

    [Theory]
    [MemberData(nameof(HardCases))]
    public void Hard_cases_decode_back_to_the_same_text(string text) =>
        Assert.Equal(text, Gpt2.Value.Decode(Gpt2.Value.Encode(text)));

    [Fact]
    public void The_whole_Brown_corpus_encodes_to_the_same_ids_as_tiktoken()
    {
        var documents = Directory.GetFiles(RepositoryPaths.BrownCorpus).Order(StringComparer.Ordinal)
            .Select(File.ReadAllText).ToList();
        Assert.Equal(500, documents.Count);
        AssertSameIdsAsTiktoken(documents);
    }

    [Fact]
    public void Every_Tang_poem_encodes_to_the_same_ids_as_tiktoken()
    {
        var poems = new List<string>();
        foreach (var file in Directory.GetFiles(RepositoryPaths.TangPoems,
                                                "poet.tang.*.json").Order(StringComparer.Ordinal))
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(file));
            foreach (var poem in json.RootElement.EnumerateArray())
                poems.Add(poem.GetProperty("title").GetString() + "\n" + string.Join(
                    "\n", poem.GetProperty("paragraphs").EnumerateArray().Select(p => p.GetString())));
        }
        Assert.Equal(57607, poems.Count);
        // One reference call per 5,000 poems keeps the JSON exchanged with node small.
        foreach (var chunk in poems.Chunk(5000))
            AssertSameIdsAsTiktoken(chunk);
    }

    /// <summary>Pieces far longer than a word, of every kind the pre-tokenizer makes: these merge through the priority
    /// queue.</summary>
    private static string[] LongPieceTexts()
    {
        var random = new Random(77);
        string Run(int length, string alphabet) =>
            new(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
        string words = string.Concat(Enumerable.Repeat("thequickbrownfoxjumpsoverthelazydog", 60));
        string cjk = string.Concat(Enumerable.Range(0, 1000).Select(_ => (char)random.Next(0x4E00, 0x9FFF)));
        string emoji = string.Concat(Enumerable.Range(0,
                                                      400).Select(_ => char.ConvertFromUtf32(random.Next(0x1F600,
            0x1F650))));
        return
        [
            Run(3000, "ab"), Run(3000, "abcdefghijklmnopqrstuvwxyz"), " " + words, words.ToUpperInvariant(),
            Run(2000, "0123456789"), Run(2000, "!?.,-_=*#/"), Run(2000, "  \t\n") + "x", new string(' ', 2000) + "end",
            cjk, emoji, "a" + new string('a', 4000),
        ];
    }

    [Fact]
    public void Long_pieces_encode_to_the_same_ids_as_tiktoken() => AssertSameIdsAsTiktoken(LongPieceTexts());

    [Fact]
    public void The_queue_merges_every_piece_as_the_scan_does()
    {
        var random = new Random(5);
        var tokenizer = Gpt2.Value;
        for (int trial = 0; trial < 3000; trial++)
        {
            var piece = new byte[random.Next(1, 200)];
            string alphabet = (trial % 3) switch { 0 => "ab", 1 => "etaoin shrdlu", _ => "0123456789" };
            for (int i = 0; i < piece.Length; i++) piece[i] = (byte)alphabet[random.Next(alphabet.Length)];
            if (trial % 5 == 0) random.NextBytes(piece);
            Assert.Equal(tokenizer.MergeByScan(piece), tokenizer.MergeByQueue(piece));
        }
    }

    [Fact]
    public void Random_byte_strings_round_trip_exactly()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 2000; trial++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (trial % 2 == 0) // half the strings mostly ASCII, so pieces of every kind occur
                for (int i = 0; i < bytes.Length; i++) bytes[i] &= 0x7F;
            var ids = new List<int>();
            Gpt2.Value.EncodeUtf8(bytes, ids);
            Assert.Equal(bytes, Gpt2.Value.DecodeBytes(ids.ToArray()));
        }
    }

    [Fact]
    public void Valid_UTF8_bytes_encode_like_the_text_they_spell()
    {
        const string text = "Tokens 1234 ünïcödé 中文 😀";
        var ids = new List<int>();
        Gpt2.Value.EncodeUtf8(Encoding.UTF8.GetBytes(text), ids);
        Assert.Equal(Gpt2.Value.Encode(text), ids.ToArray());
    }

    [Fact]
    public void Known_ids_of_GPT2()
    {
        // Published GPT-2 facts: 50,257 ids, "Hello" = 15496, " world" = 995, <|endoftext|> = 50256.
        Assert.Equal(50257, Gpt2.Value.VocabSize);
        Assert.Equal(50256, Gpt2.Value.EndOfTextId);
        Assert.Equal([15496, 995], Gpt2.Value.Encode("Hello world"));
    }

    [Fact]
    public void End_of_text_is_one_token_only_when_special_tokens_are_allowed()
    {
        const string text = "a<|endoftext|>b";
        Assert.Equal([64, 50256, 65], Gpt2.Value.Encode(text, allowSpecialTokens: true));
        Assert.DoesNotContain(50256, Gpt2.Value.Encode(text));
    }

    [Fact]
    public void An_id_outside_the_vocabulary_is_a_clear_error_on_decode()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Gpt2.Value.Decode([15496, 50257]));
        Assert.Contains("50257", error.Message);
        Assert.Contains("outside the vocabulary", error.Message);
    }

    private static void AssertSameIdsAsTiktoken(IReadOnlyList<string> documents)
    {
        int[][] expected = TiktokenReference.Encode(documents);
        for (int i = 0; i < documents.Count; i++)
        {
            int[] actual = Gpt2.Value.Encode(documents[i]);
            if (!expected[i].AsSpan().SequenceEqual(actual))
            {
                int at = 0;
                while (at < actual.Length && at < expected[i].Length && actual[at] == expected[i][at]) at++;
                Assert.Fail($"document {i} differs from tiktoken at id {at}: expected " +
                            $"{string.Join(",", expected[i].Skip(at).Take(8))}, got " +
                            $"{string.Join(",", actual.Skip(at).Take(8))}");
            }
        }
    }
}
