using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Tokenizers;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>Whole training runs on a tiny model: the loss falls, a resumed run continues bit for bit, bad input is
/// refused.</summary>
public sealed class TrainingRunTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A corpus with structure a tiny model can learn: sentences drawn from a small grammar.</summary>
    private string PrepareData(int documents = 300, string name = "data")
    {
        var random = new Random(42);
        string[] subjects = ["the cat", "a dog", "my friend", "the old man"],
        verbs = ["sees", "likes", "finds", "draws"],
                 objects = ["the moon", "a red ball", "the river", "green hills"];
        var texts = Enumerable.Range(0, documents).Select(_ => string.Join(" ", Enumerable.Range(0, 6).Select(_ =>
            $"{subjects[random.Next(4)]} {verbs[random.Next(4)]} {objects[random.Next(4)]}."))).ToList();
        string corpus = Path.Combine(_dir, name + ".jsonl");
        File.WriteAllLines(corpus, texts.Select(t => new JsonObject { ["text"] = t }.ToJsonString()));
        string tokenizer = Path.Combine(_dir, name + "-tokenizer");
        WordPieceTrainer.Save(WordPieceTrainer.Train(texts, vocabSize: 60), tokenizer);
        string data = Path.Combine(_dir, name);
        DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus], TokenizerDirectory = tokenizer,
                                                  OutputDirectory = data });
        return data;
    }

    private static TrainOptions Options(string data, string output, int steps) => new()
    {
        DataDirectory = data, OutputDirectory = output, Config = "tiny", Steps = steps, BatchSize = 4, Context = 32,
        LearningRate = 3e-3, EvalEvery = 0, SaveEvery = 0, SampleTokens = 0, Threads = 1, Seed = 7, Noise = 0.02,
    };

    private static TrainSummary Train(TrainOptions options, bool resume = false) =>
        new TrainingLoop(TextWriter.Null).Run(options, resume, CancellationToken.None);

    /// <summary>Rewrites a JSON file with one edit, as a user or a damaged disk might.</summary>
    private static void EditJson(string path, Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root);
        File.WriteAllText(path, root.ToJsonString());
    }

    private static double[] Losses(string output) =>
        File.ReadLines(Path.Combine(output, "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!["loss"]!.GetValue<double>()).ToArray();

    [Fact]
    public void A_tiny_model_learns_its_corpus()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 60) with { EvalEvery = 30, SampleTokens = 8 });
        var losses = Losses(output);
        Assert.Equal(60, losses.Length);
        Assert.True(losses.TakeLast(10).Average() < losses.Take(5).Average() - 1.0,
                    $"loss went from {losses.Take(5).Average():F3} to {losses.TakeLast(10).Average():F3}");
        Assert.StartsWith("\x89PNG", System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(Path.Combine(output,
            "loss.png")).AsSpan(0, 4)));
        string svg = File.ReadAllText(Path.Combine(output, "loss.svg"));
        Assert.Contains("<svg", svg);
        foreach (var label in new[] { "train loss", "val loss", "learning rate", "step" }) Assert.Contains(label, svg);
        Assert.Contains("val_loss", File.ReadAllText(Path.Combine(output, "metrics.jsonl")));
        using var checkpoint = Gpt2Checkpoint.Open(output); // the result is a valid HF-layout checkpoint
        Assert.Equal("60", checkpoint.Metadata["step"]);
    }

    [Fact]
    public void End_to_end_prepare_train_export_and_parity_within_tolerance()
    {
        string data = PrepareData();
        string checkpoint = Path.Combine(_dir, "run");
        Train(Options(data, checkpoint, steps: 20));
        foreach (var (name, options) in new[]
        {
            ("portable", new Exporter.Graphs.ExportOptions()),
            ("fused", new Exporter.Graphs.ExportOptions { Variant = Exporter.Graphs.GraphVariant.Fused }),
            ("fp16", new Exporter.Graphs.ExportOptions { Precision = Exporter.Graphs.Precision.Fp16 }),
        })
        {
            string onnx = Path.Combine(_dir, name);
            Exporter.OnnxExporter.Export(checkpoint, onnx, options);
            var report = Parity.ParityCheck.Run(checkpoint, onnx, generateTokens: 6);
            Assert.True(report.Passed, $"{name}: {string.Join("; ", report.Failures)}");
            Assert.True(report.MaxAbsDiff <= (report.Tolerance.MaxAbsDiff ?? 2e-2),
                        $"{name}: max |Δlogit| {report.MaxAbsDiff:E2}");
            Assert.Equal(1.0, report.Top1Agreement);
            Assert.True(report.GreedyIdentical && report.BatchIdentical);
        }
    }

    [Fact]
    public void A_resumed_run_continues_bit_for_bit()
    {
        string data = PrepareData();
        string straight = Path.Combine(_dir, "straight"), split = Path.Combine(_dir, "split");
        // Dropout and input noise make both random generators matter.
        var options = Options(data, straight, steps: 16) with { Dropout = 0.1, EvalEvery = 5, SampleTokens = 4 };
        Train(options);
        // The same run, stopped after step 9 as Ctrl-C would stop it, then resumed.
        using var stop = new CancellationTokenSource();
        var interrupted = new TrainingLoop(TextWriter.Null, (step, _) => { if (step == 9) stop.Cancel(); })
            .Run(options with { OutputDirectory = split }, resume: false, stop.Token);
        Assert.True(interrupted.Interrupted);
        Assert.Equal(9, interrupted.Step);
        Train(options with { OutputDirectory = split }, resume: true);
        Assert.Equal(Losses(straight), Losses(split)); // exact equality of every loss, before and after the resume
    }

    [Fact]
    public void An_adafactor_run_with_activation_checkpointing_resumes_bit_for_bit()
    {
        string data = PrepareData();
        string straight = Path.Combine(_dir, "straight"), split = Path.Combine(_dir, "split");
        var options = Options(data, straight, steps: 12) with
        {
            Dropout = 0.1, Optimizer = "adafactor", RelativeStep = true, ActivationCheckpointing = 1,
            GradientAccumulation = 2,
        };
        Train(options);
        using var stop = new CancellationTokenSource();
        new TrainingLoop(TextWriter.Null, (step, _) => { if (step == 7) stop.Cancel(); })
            .Run(options with { OutputDirectory = split }, resume: false, stop.Token);
        using (var file = SafeTensorsFile.Open(Path.Combine(split, TrainingState.OptimizerFile)))
            Assert.Contains("adafactor_row.h.0.attn.c_attn.weight", file.Tensors.Keys); // the factored state was saved
        Train(options with { OutputDirectory = split }, resume: true);
        Assert.Equal(Losses(straight), Losses(split));
    }

    [Fact]
    public void Adafactor_with_activation_checkpointing_reaches_the_validation_loss_of_AdamW()
    {
        string data = PrepareData();
        var adamw = Options(data, Path.Combine(_dir, "adamw"), steps: 120) with { EvalEvery = 120, Noise = 0 };
        var adafactor = adamw with
        {
            // The same learning rate and schedule: the comparison is of the optimizers, not of step sizes.
            OutputDirectory = Path.Combine(_dir, "adafactor"), Optimizer = "adafactor", ActivationCheckpointing = 1,
        };
        double adamwLoss = Train(adamw).ValLoss!.Value, adafactorLoss = Train(adafactor).ValLoss!.Value;
        double initial = Math.Log(ShardMeta.Load(data).VocabSize);
        Assert.True(adamwLoss < initial - 1.0, $"AdamW did not learn: validation loss {adamwLoss:F3}");
        Assert.True(adafactorLoss <= adamwLoss + 0.1,
                    $"Adafactor's validation loss {adafactorLoss:F3} is more than 0.1 above AdamW's {adamwLoss:F3}");
    }

    [Fact]
    public void Bf16_mixed_precision_trains_with_a_falling_loss()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "bf16");
        Train(Options(data, output, steps: 30) with { Bf16 = true });
        var losses = Losses(output);
        Assert.All(losses, l => Assert.True(double.IsFinite(l)));
        Assert.True(losses.TakeLast(5).Average() < losses.Take(5).Average() - 0.5);
    }

    [Fact]
    public void A_save_interrupted_before_its_commit_leaves_the_last_checkpoint_usable()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 4));
        // A crash while writing the next checkpoint leaves complete-looking but uncommitted files behind.
        File.WriteAllText(Path.Combine(output, "model.safetensors.pending"), "half written");
        File.WriteAllText(Path.Combine(output, "trainer_state", "optimizer.safetensors.pending"), "half written");
        // ...and the temporary file its killed process was writing (named after that process, which has ended).
        using var ended = System.Diagnostics.Process.Start("true")!;
        ended.WaitForExit();
        string abandoned = Path.Combine(output, "trainer_state", "optimizer.safetensors.pending.tmp-" + ended.Id);
        File.WriteAllText(abandoned, "half written");
        Train(Options(data, output, steps: 6), resume: true);
        Assert.False(File.Exists(Path.Combine(output, "model.safetensors.pending")));
        Assert.False(File.Exists(abandoned));
        Assert.Equal(6, Losses(output).Length);
    }

    [Fact]
    public void A_damaged_byte_in_the_saved_moments_or_weights_is_refused_on_resume()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 2));
        foreach (string file in TrainingState.SavedFiles)
        {
            string path = Path.Combine(output, file);
            var original = File.ReadAllBytes(path);
            var damaged = original.ToArray();
            // a bit of a float near the end: the file still parses, and the run would resume from wrong numbers
            damaged[^100] ^= 0x40;
            File.WriteAllBytes(path, damaged);
            var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, output, steps: 4), resume: true));
            Assert.Contains($"{path} does not match the SHA-256 that trainer_state/state.json recorded", error.Message);
            File.WriteAllBytes(path, original);
        }
        Train(Options(data, output, steps: 4), resume: true); // restored, it resumes
        Assert.Equal(4, Losses(output).Length);
        // A run saved before the checksums were recorded resumes without them.
        EditJson(TrainingRecord.StatePath(output), state => Assert.True(state.Remove("sha256")));
        Train(Options(data, output, steps: 6), resume: true);
        Assert.Equal(6, Losses(output).Length);
    }

    [Theory]
    [InlineData("torch_rng", "null", "'torch_rng' is missing or of the wrong type")]
    [InlineData("torch_rng", "\"not base64!\"", "torch_rng must be libtorch's generator state in base64")]
    [InlineData("torch_rng", "\"AAAA\"", "torch_rng is not a state of this libtorch's generator")]
    [InlineData("data_rng", "[1, 2, 3]", "data_rng must be the four numbers of a xoshiro256 state")]
    [InlineData("data_rng", "[0, 0, 0, 0]", "data_rng must be the four numbers of a xoshiro256 state, not all zero")]
    [InlineData("optimizer_step", "-3", "optimizer_step (-3)")]
    [InlineData("step", "\"four\"", "'step' is missing or of the wrong type")]
    [InlineData("options", "null", "'options' is missing or of the wrong type")]
    [InlineData("sha256", "{\"model.safetensors\": \"00\"}", "sha256 must give the 64-digit SHA-256")]
    public void A_state_json_edited_or_damaged_is_one_error_naming_the_entry_before_the_run_resumes(string key,
        string json, string expected)
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 2));
        EditJson(TrainingRecord.StatePath(output), state => state[key] = JsonNode.Parse(json));
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, output, steps: 4), resume: true));
        Assert.Contains(expected, error.Message);
        Assert.Contains("cannot be resumed", error.Message);
    }

    [Theory]
    [InlineData("tokenizer", "\"../elsewhere\"", "tokenizer must name a folder inside")]
    [InlineData("tokenizer", "\"/etc\"", "tokenizer must name a folder inside")]
    [InlineData("tokenizer", "null", "'tokenizer' is missing or of the wrong type")]
    [InlineData("vocab_size", "\"many\"", "'vocab_size' is missing or of the wrong type")]
    [InlineData("dtype", "\"float32\"", "not a valid shard description")]
    public void A_shard_description_edited_or_damaged_is_one_error_naming_the_entry(string key, string json,
                                                                                    string expected)
    {
        string data = PrepareData();
        EditJson(Path.Combine(data, "meta.json"), meta => meta[key] = JsonNode.Parse(json));
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, Path.Combine(_dir, "run"), steps: 2)));
        Assert.Contains(expected, error.Message);
        Assert.EndsWith("prepare the data again", error.Message);
    }

    [Fact]
    public void Saved_options_out_of_range_are_refused_on_resume()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 2));
        EditJson(TrainingRecord.StatePath(output), state => state["options"]!["min_lr_ratio"] = 5);
        Assert.Contains("min_lr_ratio must be in [0, 1], not 5",
                        Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, output, steps: 4), resume: true))
                            .Message);
    }

    [Fact]
    public void The_context_a_checkpoint_was_trained_with_is_read_without_touching_the_folder()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 2));
        Assert.Equal(32, TrainingRecord.TrainedContext(output));
        // A save in progress (another process) is left as it is.
        string pending = Path.Combine(output, "model.safetensors.pending");
        File.WriteAllText(pending, "being written");
        Assert.Equal(32, TrainingRecord.TrainedContext(output));
        Assert.True(File.Exists(pending));
        File.WriteAllText(TrainingRecord.StatePath(output), "{ damaged");
        Assert.Null(TrainingRecord.TrainedContext(output));
        Assert.Null(TrainingRecord.TrainedContext(data)); // no training state at all
    }

    [Fact]
    public void Fine_tuning_starts_from_a_checkpoint_with_transformer_prefixed_names()
    {
        string data = PrepareData();
        var meta = ShardMeta.Load(data);
        string init = TinyCheckpoint.Write(Path.Combine(_dir, "init"),
                                           TinyCheckpoint.Config(vocab: meta.VocabSize, positions: 64),
                                           prefix: "transformer.");
        string output = Path.Combine(_dir, "tuned");
        Train(Options(data, output, steps: 3) with { InitCheckpoint = init, FreezeEmbeddings = true });
        using var before = Gpt2Checkpoint.Open(init);
        using var after = Gpt2Checkpoint.Open(output);
        Assert.Equal(before.ReadFloat32("wte.weight"), after.ReadFloat32("wte.weight")); // frozen
        Assert.NotEqual(before.ReadFloat32("h.0.mlp.c_fc.weight"), after.ReadFloat32("h.0.mlp.c_fc.weight"));
    }

    [Fact]
    public async Task Options_a_resumed_or_fine_tuned_run_does_not_use_are_named()
    {
        // Before, they were dropped in silence: --lr 0.1 on --resume looked applied and was not.
        string data = PrepareData(documents: 40), output = Path.Combine(_dir, "run");
        string[] run = ["train", "--data", data, "--out", output, "--config", "tiny", "--batch-size", "2", "--context",
                        "16", "--threads", "1", "--eval-every", "0", "--sample-tokens", "0"];
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", [.. run, "--steps", "1"]);
        Assert.True(exitCode == 0, stderr);
        Assert.DoesNotContain("note:", stderr);
        (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--out", output,
                                                          "--resume", "--steps", "2", "--lr", "0.1", "--config",
                                                          "gpt2");
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("so --config, --lr given here are not used; only --steps and --minutes change", stderr);
        (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train",
                                                          [.. run.Select(a => a == output ? output + "-tuned" : a),
                                                           "--steps", "1", "--init", output]);
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("--init takes the model's shape from the checkpoint, so --config is not used", stderr);
    }

    [Fact]
    public async Task A_resume_without_steps_keeps_the_runs_length_and_its_warm_up()
    {
        // Before, --resume without --steps took the option's default (1,000 steps) for a run of 4, with a new warm-up.
        string data = PrepareData(documents: 40), output = Path.Combine(_dir, "run");
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--out", output,
                                                              "--config", "tiny", "--steps", "4",
            "--save-every", "2", "--batch-size", "2", "--context", "16", "--threads", "1", "--eval-every", "0",
            "--sample-tokens", "0");
        Assert.True(exitCode == 0, stderr);
        // 10% of 4 steps, at least 1, saved with the run
        Assert.Equal(1, CheckpointStore.ReadState(output).Options.WarmupSteps);
        (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--out", output,
                                                          "--resume");
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("resuming " + output + " at step 4 of 4", stderr);
        Assert.Equal(4, CheckpointStore.ReadState(output).Step);
        (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--out", output,
                                                          "--resume", "--steps", "6");
        Assert.True(exitCode == 0, stderr);
        var state = CheckpointStore.ReadState(output);
        Assert.Equal((6, 6, 1), (state.Step, state.Options.Steps, state.Options.WarmupSteps));
    }

    [Fact]
    public async Task Training_on_a_CUDA_device_without_a_CUDA_libtorch_is_one_error_line()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // this check is about CPU-only libtorch builds
        string data = PrepareData(documents: 40), output = Path.Combine(_dir, "run");
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-train", "train", "--data", data, "--out", output,
                                                              "--steps", "1", "--device", "cuda:0");
        Assert.Equal(1, exitCode);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("--device cuda:0: the libtorch in use", stderr);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_vocabulary_that_does_not_match_the_data_is_refused()
    {
        string data = PrepareData();
        string init = TinyCheckpoint.Write(Path.Combine(_dir, "init"), TinyCheckpoint.Config(vocab: 500));
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, Path.Combine(_dir, "out"),
                                                                         2) with { InitCheckpoint = init }));
        Assert.Contains("vocabulary", error.Message);
    }

    [Fact]
    public void A_second_run_into_a_folder_being_trained_is_refused_before_it_touches_it()
    {
        // Before, both ran, and the second one's recovery of an interrupted save could discard the first one's save in
        // progress.
        string data = PrepareData(documents: 40), output = Path.Combine(_dir, "run");
        Directory.CreateDirectory(Path.Combine(output, "trainer_state"));
        using (var other = ExclusiveLock.TryAcquire(Path.Combine(output, "trainer_state", "run.lock")))
        {
            Assert.NotNull(other);
            var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, output, steps: 1)));
            Assert.Contains("is being trained by another process", error.Message);
            Assert.True(Directory.Exists(output));
            // still the other's
            Assert.Null(ExclusiveLock.TryAcquire(Path.Combine(output, "trainer_state", "run.lock")));
        }
        Assert.Equal(1, Train(Options(data, output, steps: 1)).Step);
        Assert.Equal(2, Train(Options(data, output, steps: 2), resume: true).Step); // the lock goes with the run
    }

    [Fact]
    public void A_micro_batch_too_large_for_memory_is_refused_before_anything_is_allocated()
    {
        string data = PrepareData();
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, Path.Combine(_dir, "out"),
                                                                         2) with { BatchSize = int.MaxValue }));
        // the product overflowed int before
        Assert.Contains($"--batch-size {int.MaxValue} × --context 32 needs", error.Message);
        Assert.Contains("reach a larger batch with --grad-accum", error.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Theory]
    [InlineData(-1, 0.1, "--warmup must be 0 or more steps, not -1")]
    [InlineData(null, -0.5, "--weight-decay must be 0 or more, not -0.5")]
    public void Negative_schedule_settings_are_refused(int? warmup, double weightDecay, string expected)
    {
        string data = PrepareData();
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, Path.Combine(_dir, "out"),
                                                                         2) with { WarmupSteps = warmup,
                                                                                   WeightDecay = weightDecay }));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_corpus_shorter_than_one_window_is_refused()
    {
        string data = PrepareData(documents: 1);
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, Path.Combine(_dir, "out"),
                                                                         2) with { Context = 64, Config = "tiny" }));
        Assert.Contains("fewer than one training window", error.Message);
    }

    [Fact]
    public void An_empty_corpus_is_refused()
    {
        string corpus = Path.Combine(_dir, "empty.txt");
        File.WriteAllText(corpus, "");
        string tokenizer = Path.Combine(_dir, "tok");
        WordPieceTrainer.Save(WordPieceTrainer.Train(["a b c"], 20), tokenizer);
        var error = Assert.Throws<Gpt2OnnxException>(() => DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus],
            TokenizerDirectory = tokenizer, OutputDirectory = Path.Combine(_dir, "d") }));
        Assert.Contains("empty", error.Message);
    }

    [Fact]
    public void Starting_a_new_run_over_an_existing_one_is_refused()
    {
        string data = PrepareData();
        string output = Path.Combine(_dir, "run");
        Train(Options(data, output, steps: 2));
        var error = Assert.Throws<Gpt2OnnxException>(() => Train(Options(data, output, steps: 2)));
        Assert.Contains("--resume", error.Message);
    }

    [Fact]
    public void Preparing_is_deterministic_whatever_the_thread_count()
    {
        string first = PrepareData(name: "first");
        string corpus = Path.Combine(_dir, "first.jsonl");
        string again = Path.Combine(_dir, "again");
        DataPreparer.Prepare(new PrepareOptions { Inputs = [corpus],
                                                  TokenizerDirectory = Path.Combine(_dir, "first-tokenizer"),
                                                  OutputDirectory = again, Threads = 1 });
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, "train.bin")),
                     File.ReadAllBytes(Path.Combine(again, "train.bin")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(first, "val.bin")),
                     File.ReadAllBytes(Path.Combine(again, "val.bin")));
    }
}
