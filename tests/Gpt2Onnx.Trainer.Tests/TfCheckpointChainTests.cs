using System.Text.Json.Nodes;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Tokenizers;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// TensorFlow GPT-2 checkpoints (OpenAI's and GPT2_ML's layouts) through the command lines: convert, export,
/// generate, parity, and fine-tuning with --init; and GPT2_ML's block in the trainer against the reference.
/// </summary>
public sealed class TfCheckpointChainTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tf => Path.Combine(_dir, "tf");

    [Fact]
    public void The_gpt2_ml_block_in_the_trainer_matches_the_reference()
    {
        var config = TinyCheckpoint.Config(activation: "gelu") with { Block = Gpt2Config.Gpt2MlBlock };
        using var checkpoint = Gpt2Checkpoint.Open(TinyCheckpoint.Write(_dir, config, seed: 9));
        using var model = Gpt2Model.Load(checkpoint);
        int[] ids = [5, 17, 3, 90, 42, 42, 0, 11];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var logits = model.Forward(tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length])).data<float>().ToArray();
        var expected = new ReferenceGpt2(checkpoint).Forward(ids).SelectMany(r => r).ToArray();
        Assert.Equal(expected.Length, logits.Length);
        Assert.True(expected.Select((e, i) => Math.Abs(e - logits[i])).Max() <= 1e-4);
    }

    [Fact]
    public void A_new_gpt2_ml_model_has_an_embedding_norm_and_no_final_norm()
    {
        var config = TinyCheckpoint.Config(activation: "gelu") with { Block = Gpt2Config.Gpt2MlBlock };
        using var model = Gpt2Model.Create(config, seed: 1);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("ln_emb.weight", names);
        Assert.DoesNotContain("ln_f.weight", names);
        Assert.Equal(CheckpointLayout.ExpectedTensors(config).Select(e => e.Name).Order(), names.Order());
        Assert.All(model["ln_emb.weight"].data<float>().ToArray(), g => Assert.Equal(1f, g));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_tf_checkpoint_converts_exports_generates_and_passes_parity(bool gpt2Ml)
    {
        if (gpt2Ml) TinyTfCheckpoint.WriteGpt2Ml(_dir);
        else TinyTfCheckpoint.WriteOpenAi(_dir);
        string hf = Path.Combine(_dir, "hf"), onnx = Path.Combine(_dir, "onnx");
        string report = Path.Combine(_dir, "parity.json");
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-train", "convert", "--from", "tf",
                                                                   "--checkpoint", Tf, "--out", hf);
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("optimizer slots and counters left unread", stdout);
        (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-export", "--checkpoint", hf, "--out", onnx);
        Assert.True(exitCode == 0, stderr);
        (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", onnx, "--prompt",
                                                               "the dog", "--max-new-tokens", "4", "--greedy");
        Assert.True(exitCode == 0, stderr);
        Assert.StartsWith("the dog", stdout.Trim());
        (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-train", "parity", "--checkpoint", hf,
            "--onnx", onnx, "--report", report, "--tokens", "4", "--threads", "1");
        Assert.True(exitCode == 0, stdout + stderr);
        Assert.True(JsonNode.Parse(File.ReadAllText(report))!["max_abs_diff"]!.GetValue<double>() <= 1e-4);
    }

    [Fact]
    public async Task Fine_tuning_starts_from_a_gpt2_ml_tf_folder_with_init()
    {
        TinyTfCheckpoint.WriteGpt2Ml(_dir);
        string corpus = Path.Combine(_dir, "corpus.txt"), data = Path.Combine(_dir, "data");
        string run = Path.Combine(_dir, "run");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("床前明月光，疑是地上霜。the quick brown fox. ", 30)));
        DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus], TokenizerDirectory = Tf, OutputDirectory = data });
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--init", Tf,
            "--out", run, "--steps", "2", "--batch-size", "2", "--context", "16", "--threads", "1");
        Assert.True(exitCode == 0, stderr);
        using var tuned = Gpt2Checkpoint.Open(run);
        Assert.True(tuned.Config.IsGpt2Ml);
        using var start = Gpt2Checkpoint.Open(Tf);
        Assert.NotEqual(start.ReadFloat32("h.0.ln_1.weight"), tuned.ReadFloat32("h.0.ln_1.weight")); // it trained
    }
}
