using System.Text;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Runtime.Tokenizers.Contract;
using Gpt2Onnx.TestSupport;
using Microsoft.ML.Tokenizers;
using BpeTokenizer = Gpt2Onnx.Runtime.Tokenizers.BpeTokenizer;

namespace Gpt2Onnx.Runtime.Tests.Generation;

/// <summary>A model driven with a Microsoft.ML.Tokenizers tokenizer instead of the folder's own.</summary>
public sealed class LibraryTokenizerTests : IDisposable
{
    private const int Gpt2Vocab = 50257;
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _portable;

    public LibraryTokenizerTests() => (_, _portable, _) = TinyModel.Export(_dir, vocab: Gpt2Vocab);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static GenerationResult Generate(LanguageModel model, string prompt, Action<string>? onText = null)
    {
        using var generator = new Generator(model);
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 24, StopTokenIds = [] };
        return generator.Generate(new GenerationRequest { Prompt = prompt, Options = options }, onText);
    }

    [Fact]
    public void Tiktoken_drives_the_model_as_our_gpt2_tokenizer_does()
    {
        var settings = new SessionSettings { IntraOpThreads = 1 };
        string prompt = "Hello world, 床前明月光 😀";
        using var withTiktoken = LanguageModel.Load(_portable, TiktokenTokenizer.CreateForModel("gpt2"), settings);
        using var withOurs = LanguageModel.Load(_portable, BpeTokenizer.Load(RepositoryPaths.Gpt2Tokenizer), settings);
        Assert.IsType<LibraryTokenizer>(withTiktoken.Tokenizer);
        var streamed = new StringBuilder();
        var theirs = Generate(withTiktoken, prompt, text => streamed.Append(text));
        var ours = Generate(withOurs, prompt);
        Assert.Equal(ours.PromptIds, theirs.PromptIds);
        Assert.Equal(ours.TokenIds, theirs.TokenIds);
        Assert.Equal(ours.Text, theirs.Text);
        Assert.Equal(theirs.Text, streamed.ToString());
    }

    [Fact]
    public void Streaming_through_a_library_tokenizer_holds_a_split_character_until_it_is_whole()
    {
        var tokenizer = new LibraryTokenizer(TiktokenTokenizer.CreateForModel("gpt2"), Gpt2Vocab, 50256);
        int[] ids = tokenizer.Library.EncodeToIds("床前 😀!").ToArray();
        var decoder = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(decoder.Append).ToList();
        pieces.Add(decoder.Flush());
        Assert.DoesNotContain(pieces, piece => piece.Contains('\uFFFD'));
        Assert.Equal("床前 😀!", string.Concat(pieces));
    }
}
