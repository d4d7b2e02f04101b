using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>The window a checkpoint was trained on travels into its export, and perplexity scores with it by
/// default.</summary>
public sealed class TrainedContextTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A checkpoint (32 positions, with a tokenizer) whose training state, when given, is <paramref
    /// name="state"/>.</summary>
    private string Checkpoint(string name, string? state)
    {
        var tokenizer = Gpt2Onnx.Trainer.Tokenizers.BpeTrainer.Train(["the quick brown fox jumps over the lazy dog"],
                                                                     vocabSize: 270);
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, name),
                                                 TinyCheckpoint.Config(vocab: tokenizer.VocabSize, positions: 32),
                                                 seed: 4);
        tokenizer.Save(checkpoint);
        if (state != null)
        {
            Directory.CreateDirectory(Path.Combine(checkpoint, TrainingRecord.StateFolder));
            File.WriteAllText(TrainingRecord.StatePath(checkpoint), state);
        }
        return checkpoint;
    }

    private LanguageModel Export(string checkpoint, GraphVariant variant = GraphVariant.Portable)
    {
        string output = checkpoint + "-onnx";
        OnnxExporter.Export(checkpoint, output, new ExportOptions { Variant = variant, Force = true });
        return LanguageModel.Load(output, new SessionSettings { IntraOpThreads = 1 });
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void An_export_records_the_trained_window_and_perplexity_defaults_to_it(GraphVariant variant)
    {
        const string record = """{"step": 10, "options": {"context": 8, "batch_size": 4, "init": null}}""";
        using var model = Export(Checkpoint("trained", record), variant);
        Assert.Equal(8, model.TrainedContext);
        var ids = Enumerable.Range(0, 40).Select(i => (i * 7 + 3) % 90).ToArray();
        var byDefault = Perplexity.Evaluate(model, ids);
        Assert.Equal(Perplexity.Evaluate(model, ids, window: 8), byDefault);
        Assert.NotEqual(Perplexity.Evaluate(model, ids, window: 32).Loss, byDefault.Loss);
    }

    [Theory]
    [InlineData(null)]                                              // not trained by gpt2-train (a Hugging Face folder)
    [InlineData("""{"options": {"context": 32}}""")]                 // the whole context: nothing to record
    [InlineData("""{"options": {"context": 64}}""")]                 // more than the model has: not believed
    [InlineData("""{"options": {"context": "8"}}""")]
    [InlineData("""{"options": {"context": 0}}""")]
    [InlineData("""{"options": {"context": 8}, "options": {}}""")]  // a property twice: damaged
    [InlineData("{ damaged")]
    [InlineData("""{"options": {"context": 8, "init": "gpt2"}}""")]  // fine-tuned: the starting weights saw more
    public void Without_a_believable_trained_window_perplexity_uses_the_whole_context(string? state)
    {
        using var model = Export(Checkpoint("other", state));
        Assert.Null(model.TrainedContext);
        var ids = Enumerable.Range(0, 40).Select(i => (i * 5 + 1) % 90).ToArray();
        Assert.Equal(Perplexity.Evaluate(model, ids, window: 32), Perplexity.Evaluate(model, ids));
    }

    [Theory]
    [InlineData(33, 0, "a window of 33 tokens exceeds the model's context of 32")]
    [InlineData(1, 0, "must be 0 (the default) or at least 2 tokens")]   // nothing left to predict inside it
    [InlineData(-4, 0, "must be 0 (the default) or at least 2 tokens")]
    [InlineData(8, -1, "the stride (-1) must be 0 (half the window) or more")]
    [InlineData(0, -1, "the stride (-1) must be 0 (half the window) or more")] // the default window is not the error
    [InlineData(8, 9, "the stride (9) must not exceed the window (8)")]
    public void A_window_or_stride_that_cannot_work_is_refused(int window, int stride, string expected)
    {
        using var model = Export(Checkpoint("bounds", null));
        var ids = Enumerable.Range(0, 40).Select(i => (i * 5 + 1) % 90).ToArray();
        Assert.Contains(expected, Assert.Throws<Gpt2OnnxException>(() => Perplexity.Evaluate(model, ids, window,
            stride)).Message);
    }

    [Fact]
    public void The_smallest_window_scores_every_token_but_the_first()
    {
        using var model = Export(Checkpoint("smallest", null));
        var ids = Enumerable.Range(0, 40).Select(i => (i * 5 + 1) % 90).ToArray();
        var result = Perplexity.Evaluate(model, ids, window: 2);   // stride 1: half of 2
        Assert.Equal((39L, 39), (result.Tokens, result.Windows));
        Assert.True(double.IsFinite(result.Loss));
    }

    [Fact]
    public void A_fine_tune_keeps_its_window_for_evaluation_but_claims_no_untrained_positions()
    {
        string checkpoint = Checkpoint("fine-tuned", """{"options": {"context": 8, "init": "models/gpt2"}}""");
        Assert.Equal(8, TrainingRecord.TrainedContext(checkpoint));
        Assert.Null(TrainingRecord.TrainedPositions(checkpoint));
    }
}
