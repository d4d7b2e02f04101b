using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Tokenizers;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>A model whose logits overflow float's range: perplexity is an error, not "Infinity" with success.</summary>
public sealed class PerplexityOverflowTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _onnx;

    /// <summary>
    /// Every embedding 1 and the final norm's bias 1e38: each logit is 32 × 1e38, past float's largest value
    /// (3.4e38), so every logit is infinite.
    /// </summary>
    public PerplexityOverflowTests()
    {
        var tokenizer = BpeTrainer.Train(["the quick brown fox jumps over the lazy dog"], vocabSize: 270);
        var config = TinyCheckpoint.Config(vocab: tokenizer.VocabSize, positions: 32) with
        {
            BosTokenId = tokenizer.EndOfTextId, EosTokenId = tokenizer.EndOfTextId,
        };
        string checkpoint = Path.Combine(_dir, "ckpt");
        Directory.CreateDirectory(checkpoint);
        config.Save(Path.Combine(checkpoint, CheckpointLayout.ConfigFile));
        var entries = CheckpointLayout.ExpectedTensors(config).Select(e =>
        {
            bool gain = e.Name.Contains("ln_") && e.Name.EndsWith("weight");
            float value = e.Name switch { "wte.weight" => 1, "ln_f.bias" => 1e38f, _ when gain => 1, _ => 0 };
            var values = Enumerable.Repeat(value, (int)e.Shape.Aggregate(1L, (a, b) => a * b)).ToArray();
            var bytes = MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
            return new SafeTensorsFile.Entry(e.Name, TensorElementType.Float, e.Shape, bytes);
        });
        SafeTensorsFile.Write(Path.Combine(checkpoint, CheckpointLayout.ModelFile), entries);
        tokenizer.Save(checkpoint);
        _onnx = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, _onnx, new ExportOptions { Variant = GraphVariant.Portable });
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Perplexity_over_logits_that_overflow_is_an_error_naming_the_window()
    {
        using var model = LanguageModel.Load(_onnx, new SessionSettings { IntraOpThreads = 1 });
        var error = Assert.Throws<Gpt2OnnxException>(() => Perplexity.Evaluate(model, [1, 2, 3, 4, 5]));
        Assert.Contains("logits in window 1 (tokens 0-4) are not finite numbers", error.Message);
    }

    [Fact]
    public async Task The_perplexity_command_fails_with_one_line_instead_of_printing_infinity()
    {
        string text = Path.Combine(_dir, "text.txt");
        File.WriteAllText(text, "the quick brown fox");
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", "perplexity", "--model", _onnx,
                                                                   "--input", text, "--threads", "1");
        Assert.Equal(1, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: the model's logits in window 1", Assert.Single(stderr.TrimEnd('\n').Split('\n')));
    }

    [Fact]
    public void A_loss_whose_exponential_is_beyond_a_double_is_an_error()
    {
        var error = Assert.Throws<Gpt2OnnxException>(() => Perplexity.Finite(Math.Exp(800), 800));
        Assert.Contains("perplexity (e to the loss) overflows", error.Message);
        Assert.Equal(Math.Exp(3), Perplexity.Finite(Math.Exp(3), 3));
    }
}
