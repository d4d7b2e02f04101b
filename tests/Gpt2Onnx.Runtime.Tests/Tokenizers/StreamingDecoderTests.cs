using System.Text;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Tests.Tokenizers;

public class StreamingDecoderTests
{
    private static readonly Lazy<BpeTokenizer> Gpt2 = new(() => BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer));

    [Theory]
    [InlineData("中文字符测试，床前明月光")]
    [InlineData("emoji 👨‍👩‍👧‍👦 and 👍🏽 and 🏳️‍🌈")]
    [InlineData("plain ASCII text, nothing split")]
    [InlineData("नमस्ते दुनिया")]
    public void Pieces_are_whole_characters_and_join_to_the_decoded_text(string text)
    {
        int[] ids = Gpt2.Value.Encode(text);
        var decoder = Gpt2.Value.CreateStreamingDecoder();
        var pieces = ids.Select(decoder.Append).ToList();
        pieces.Add(decoder.Flush());
        Assert.Equal(text, string.Concat(pieces));
        foreach (var piece in pieces)
        {
            Assert.DoesNotContain('\uFFFD', piece);
            if (piece.Length > 0) Assert.False(char.IsHighSurrogate(piece[^1]), "a piece ends inside a surrogate pair");
        }
    }

    [Fact]
    public void A_character_split_across_tokens_is_held_back_until_complete()
    {
        // "文" is three UTF-8 bytes that GPT-2 spells as two tokens: the first alone yields nothing.
        int[] ids = Gpt2.Value.Encode("文");
        Assert.True(ids.Length > 1);
        var decoder = Gpt2.Value.CreateStreamingDecoder();
        Assert.Equal("", decoder.Append(ids[0]));
        Assert.Equal("文", string.Concat(ids.Skip(1).Select(decoder.Append)));
    }

    [Fact]
    public void An_incomplete_character_left_at_the_end_is_flushed_as_a_replacement()
    {
        int[] ids = Gpt2.Value.Encode("文");
        var decoder = Gpt2.Value.CreateStreamingDecoder();
        decoder.Append(ids[0]);
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.Equal("a", decoder.Append(Gpt2.Value.Encode("a")[0]));
    }

    [Fact]
    public void Decoding_invalid_bytes_gives_replacement_characters_not_an_error()
    {
        var bytes = new byte[] { 0xE4, 0xB8 }; // the first two bytes of "中"
        var ids = new List<int>();
        Gpt2.Value.EncodeUtf8(bytes, ids);
        Assert.Equal(Encoding.UTF8.GetString(bytes), Gpt2.Value.Decode(ids.ToArray()));
    }
}
