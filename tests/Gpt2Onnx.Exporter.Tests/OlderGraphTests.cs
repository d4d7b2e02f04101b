using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>The runtime drives graphs without the optional logits_to_keep input (older exports, other exporters) as
/// well.</summary>
public sealed class OlderGraphTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A copy of <paramref name="folder"/> whose graph no longer lists logits_to_keep as an input (its default
    /// becomes a constant).</summary>
    private string WithoutLogitsToKeep(string folder)
    {
        string copy = folder + "-older";
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(folder)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        string path = Path.Combine(copy, OnnxExporter.ModelFile);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.True(model.Graph.Input.Remove(model.Graph.Input.Single(i => i.Name == GraphNames.LogitsToKeep)));
        File.WriteAllBytes(path, Google.Protobuf.MessageExtensions.ToByteArray(model));
        return copy;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generation_without_logits_to_keep_gives_the_same_tokens(bool fused)
    {
        var (_, portable, fusedFolder) = TinyModel.Export(_dir);
        string folder = fused ? fusedFolder : portable;
        using var current = LanguageModel.Load(folder, new SessionSettings { IntraOpThreads = 1 });
        using var older = LanguageModel.Load(WithoutLogitsToKeep(folder), new SessionSettings { IntraOpThreads = 1 });
        Assert.NotNull(current.Session.Input(GraphNames.LogitsToKeep));
        Assert.Null(older.Session.Input(GraphNames.LogitsToKeep));
        var requests = new[] { new[] { 5, 6 }, new[] { 10, 200, 33, 7, 8 }, new[] { 42 } }
            .Select(p => new GenerationRequest { PromptIds = p,
                                                 Options = new SamplingOptions { Greedy = true, MaxNewTokens = 6,
                                                                                 StopTokenIds = [] } }).ToList();
        using var a = new Generator(current);
        using var b = new Generator(older);
        Assert.Equal(a.Generate(requests).Select(r => r.TokenIds), b.Generate(requests).Select(r => r.TokenIds));
        Assert.Equal(current.SequenceLogits([3, 4, 5]), older.SequenceLogits([3, 4, 5]));
    }
}
