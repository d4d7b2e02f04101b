using Gpt2Onnx.TestSupport;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Tokenizers;
using Gpt2Onnx.Trainer.Training;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>gpt2-train train refuses, a model too small for its data or an --out over an input.</summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;
    private readonly string _data;

    /// <summary>Shards of a 60-token WordPiece vocabulary.</summary>
    public TrainCommandTests()
    {
        string[] texts = ["the cat sees the moon.", "a dog likes a red ball.", "my friend finds the river."];
        string corpus = Path.Combine(_dir, "corpus.txt"), tokenizer = Path.Combine(_dir, "tokenizer");
        File.WriteAllText(corpus, string.Join(" ", Enumerable.Repeat(string.Join(" ", texts), 40)));
        WordPieceTrainer.Save(WordPieceTrainer.Train(texts, vocabSize: 60), tokenizer);
        _data = Path.Combine(_dir, "data");
        var options = new PrepareOptions { Inputs = [corpus], TokenizerDirectory = tokenizer, OutputDirectory = _data };
        DataPreparer.Prepare(options);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int ExitCode, string Stdout, string Stderr)> Train(params string[] arguments) =>
        CliProcess.RunAsync("gpt2-train", ["train", "--steps", "1", "--batch-size", "1", .. arguments]);

    [Fact]
    public async Task A_config_file_with_fewer_ids_than_the_data_is_refused()
    {
        // Its vocab_size was replaced by the data's without a word.
        int vocab = ShardMeta.Load(_data).VocabSize;
        string config = Path.Combine(_dir, "small.json");
        (TinyCheckpoint.Config(vocab: vocab - 10) with { BosTokenId = 0, EosTokenId = 0 }).Save(config);
        string output = Path.Combine(_dir, "run");
        var (exitCode, _, stderr) = await Train("--data", _data, "--config", config, "--out", output);
        Assert.Equal(1, exitCode);
        Assert.Contains($"{config} has vocab_size {vocab - 10}, fewer than the {vocab} ids of the data", stderr);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task An_out_that_holds_the_data_is_refused()
    {
        var (exitCode, _, stderr) = await Train("--data", _data, "--config", "tiny", "--out", _dir);
        Assert.Equal(1, exitCode);
        Assert.Contains($"--out {_dir} holds the --data {_data}", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "config.json")));
    }

    [Fact]
    public async Task Adafactor_with_activation_checkpointing_trains_and_reports_where_the_memory_went()
    {
        string output = Path.Combine(_dir, "run");
        var (exitCode, _, stderr) = await Train("--data", _data, "--config", "tiny", "--out", output, "--context", "16",
                                                "--optimizer", "adafactor", "--activation-checkpointing");
        Assert.True(exitCode == 0, stderr);
        var state = CheckpointStore.ReadState(output).Options;
        Assert.Equal(("adafactor", true, 1), (state.Optimizer, state.RelativeStep, state.ActivationCheckpointing));
        Assert.Matches(@"memory: peak RSS [0-9.]+ GB = weights [0-9.]+ \+ gradients [0-9.]+ \+ optimizer", stderr);
    }

    [Fact]
    public async Task A_learning_rate_given_to_adafactor_replaces_the_relative_step_size()
    {
        string output = Path.Combine(_dir, "run");
        var (exitCode, _, stderr) = await Train("--data", _data, "--config", "tiny", "--out", output, "--context", "16",
                                                "--optimizer", "adafactor", "--lr", "1e-3",
                                                "--activation-checkpointing", "2");
        Assert.True(exitCode == 0, stderr);
        var state = CheckpointStore.ReadState(output).Options;
        Assert.Equal((false, 2, 1e-3), (state.RelativeStep, state.ActivationCheckpointing, state.LearningRate));
    }

    [Theory]
    [InlineData("--optimizer", "sgd", "sgd")]
    [InlineData("--activation-checkpointing", "every", "--activation-checkpointing takes a number of blocks")]
    public async Task An_unknown_optimizer_or_segment_length_is_a_usage_error(string option, string value,
                                                                              string expected)
    {
        var (exitCode, _, stderr) = await Train("--data", _data, "--config", "tiny", "--out", Path.Combine(_dir, "run"),
                                                option, value);
        Assert.Equal(2, exitCode);
        Assert.Contains(expected, stderr);
    }
}
