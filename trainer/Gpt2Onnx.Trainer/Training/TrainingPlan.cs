using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// What a training run will do, settled before anything large is allocated: its options (a resumed run keeps its
/// own, only its length and time budget may change), the state it resumes from, the model's configuration, the
/// training context and the checkpoint a new run starts from. Every contradiction is one error here.
/// </summary>
/// <param name="Init">the checkpoint a new run starts from (--init), open; whoever builds the model disposes it</param>
internal sealed record TrainingPlan(TrainOptions Options, ShardMeta Meta, TrainingState? Saved, Gpt2Config Config,
                                    int Context, Gpt2Checkpoint? Init)
{
    public string OutputDirectory => Options.OutputDirectory;
    public string TokenizerDirectory => Path.Combine(Options.DataDirectory, Meta.Tokenizer);

    /// <summary>Warm-up, then cosine decay from --lr to its floor at the last step.</summary>
    public LearningRateSchedule Schedule =>
        new(Options.LearningRate, Options.LearningRate * Options.MinLearningRateRatio, DefaultWarmup(Options),
            Options.Steps);

    public static TrainingPlan Resolve(TrainOptions requested, ShardMeta meta, bool resume)
    {
        var (options, saved) = ResolveOptions(requested, meta, resume);
        Gpt2Checkpoint? init = !resume && options.InitCheckpoint is { } initPath ? Gpt2Checkpoint.Open(initPath) : null;
        try
        {
            var config = ResolveConfig(options, meta, init, resume);
            int context = options.Context ?? Math.Min(config.NPositions, 256);
            if (context > config.NPositions)
                throw new Gpt2OnnxException($"--context {context} is longer than the model's n_positions " +
                                            $"({config.NPositions}): lower it");
            CheckBatchMemory(options.BatchSize, context, config);
            return new TrainingPlan(options, meta, saved, config, context, init);
        }
        catch
        {
            init?.Dispose();
            throw;
        }
    }

    /// <summary>The options as given for a new run; a resumed run's own, with the given length and budget.</summary>
    private static (TrainOptions Options, TrainingState? Saved) ResolveOptions(TrainOptions requested, ShardMeta meta,
                                                                               bool resume)
    {
        string output = requested.OutputDirectory;
        TrainingState? saved = null;
        TrainOptions options = requested;
        if (resume)
        {
            if (!CheckpointStore.HasTrainingState(output))
                throw new Gpt2OnnxException($"{output} holds no training run to resume: drop --resume to start " +
                                            "one there");
            saved = CheckpointStore.ReadState(output);
            options = saved.Options with
            {
                Steps = requested.Steps, Minutes = requested.Minutes,
                DataDirectory = requested.DataDirectory, OutputDirectory = output,
            };
            if (saved.TokenizerSha256 != meta.TokenizerSha256)
                throw new Gpt2OnnxException($"{requested.DataDirectory} was prepared with another tokenizer than the " +
                                            $"run in {output}: resume with the data it was trained on");
        }
        else if (CheckpointStore.HasTrainingState(output))
        {
            throw new Gpt2OnnxException($"{output} already holds a training run: pass --resume to continue it, " +
                                        "or choose another --out");
        }
        Validate(options);
        // The warm-up a new run resolves is saved with it, so a resume that changes --steps does not move it.
        if (saved == null) options = options with { WarmupSteps = DefaultWarmup(options) };
        return (options, saved);
    }

    /// <summary>The saved run's configuration, --init's, or the preset's sized to the data's vocabulary.</summary>
    private static Gpt2Config ResolveConfig(TrainOptions options, ShardMeta meta, Gpt2Checkpoint? init, bool resume)
    {
        var config = resume ? Gpt2Config.Load(Path.Combine(options.OutputDirectory, CheckpointLayout.ConfigFile))
            : init?.Config ?? ModelPresets.Resolve(options.Config) with
            {
                VocabSize = meta.VocabSize, BosTokenId = meta.EosTokenId, EosTokenId = meta.EosTokenId,
            };
        if (config.VocabSize != meta.VocabSize)
            throw new Gpt2OnnxException($"the model's vocabulary has {config.VocabSize} ids but the data's tokenizer " +
                                        $"has {meta.VocabSize}: prepare the data with the model's tokenizer");
        if (options.Dropout is double p) config = config with { EmbdPdrop = p, AttnPdrop = p, ResidPdrop = p };
        return config.Validate("the model configuration");
    }

    /// <summary>
    /// Refuses a micro-batch whose logits alone (and their gradient: B·T·V floats each) would not fit in memory,
    /// before anything is allocated; a larger effective batch is what --grad-accum is for.
    /// </summary>
    private static void CheckBatchMemory(int batchSize, int context, Gpt2Config config)
    {
        double tokens = (double)batchSize * context;
        double logits = 2.0 * tokens * config.VocabSize * sizeof(float);
        double available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (logits > available || tokens > Array.MaxLength)
            throw new Gpt2OnnxException($"--batch-size {batchSize} × --context {context} needs {logits / 1e9:F1} GB " +
                                        $"for the logits and their gradient alone (vocabulary {config.VocabSize}), " +
                                        $"beyond this machine's {available / 1e9:F1} GB: lower --batch-size, and " +
                                        "reach a larger batch with --grad-accum");
    }

    /// <summary>The warm-up steps: as given, else 10% of the steps, at least 1 and at most 200.</summary>
    private static int DefaultWarmup(TrainOptions o) => o.WarmupSteps ?? Math.Min(200, Math.Max(1, o.Steps / 10));

    private static void Validate(TrainOptions o)
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new Gpt2OnnxException(message);
        }
        Require(o.Steps > 0, $"--steps must be positive, not {o.Steps}");
        Require(o.BatchSize > 0, $"--batch-size must be positive, not {o.BatchSize}");
        Require(o.Context is null or > 0, $"--context must be positive, not {o.Context}");
        Require(o.GradientAccumulation > 0, $"--grad-accum must be positive, not {o.GradientAccumulation}");
        Require(o.LearningRate > 0 && double.IsFinite(o.LearningRate), $"--lr must be positive, not {o.LearningRate}");
        Require(o.Threads > 0, $"--threads must be positive, not {o.Threads}");
        Require(o.Noise is >= 0 and < 1, $"--noise must be in [0, 1), not {o.Noise}");
        Require(o.Dropout is null or (>= 0 and < 1), $"--dropout must be in [0, 1), not {o.Dropout}");
        Require(o.Minutes is null or > 0, $"--minutes must be positive, not {o.Minutes}");
        Require(o.EvalEvery >= 0 && o.SaveEvery >= 0, "--eval-every and --save-every must be 0 (off) or positive");
        Require(o.WarmupSteps is null or >= 0, $"--warmup must be 0 or more steps, not {o.WarmupSteps}");
        Require(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay),
                $"--weight-decay must be 0 or more, not {o.WeightDecay}");
        Require(o.EvalBatches > 0, $"--eval-batches must be positive, not {o.EvalBatches}");
        Require(o.SampleTokens >= 0, $"--sample-tokens must be 0 (none) or more, not {o.SampleTokens}");
        Require(o.Stride is null or > 0, $"--stride must be positive, not {o.Stride}");
        Require(o.Optimizer is "adamw" or "adafactor", $"--optimizer must be adamw or adafactor, not '{o.Optimizer}'");
        Require(o.ActivationCheckpointing >= 0,
                "--activation-checkpointing must be 0 (off) or a number of blocks per segment, " +
                $"not {o.ActivationCheckpointing}");
        // Not options of the command (a resumed run's state.json carries them): a file edited by hand.
        Require(o.MinLearningRateRatio is >= 0 and <= 1,
                $"min_lr_ratio must be in [0, 1], not {o.MinLearningRateRatio}");
        Require(o.GradientClip > 0 && double.IsFinite(o.GradientClip),
                $"grad_clip must be positive, not {o.GradientClip}");
    }
}
