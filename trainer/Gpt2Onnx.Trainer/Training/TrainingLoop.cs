using System.Diagnostics;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>How a training run ended.</summary>
public sealed record TrainSummary(int Step, double LastLoss, double? ValLoss, double TokensPerSecond, bool Interrupted, string OutputDirectory);

/// <summary>
/// Trains a GPT-2: AdamW with decoupled weight decay on matrices only, warm-up then cosine decay,
/// gradient accumulation and clipping; evaluation, samples and checkpoints at intervals; a checkpoint on
/// stop (Ctrl-C, SIGTERM, the time budget). Resuming restores weights, moments, step, both random
/// generators and the data position, so on the CPU with the same thread count the losses continue bit for bit.
/// </summary>
public sealed class TrainingLoop
{
    private readonly TextWriter _log;
    private readonly Action<int, double>? _onStep;

    /// <param name="log">where progress lines go (stderr for the command line)</param>
    /// <param name="onStep">called after every optimizer step with (step, loss), for live displays</param>
    public TrainingLoop(TextWriter log, Action<int, double>? onStep = null)
    {
        _log = log;
        _onStep = onStep;
    }

    public TrainSummary Run(TrainOptions requested, bool resume, CancellationToken stop)
    {
        var meta = ShardMeta.Load(requested.DataDirectory);
        string output = requested.OutputDirectory;
        OutputFolder.Check(output);
        // One run at a time per folder: a second one (a command given twice, a restarted pod whose old copy still
        // runs) would finish or discard the first one's save in progress as if a crash had left it.
        bool created = !Directory.Exists(output);
        string stateFolder = Path.Combine(output, TrainingRecord.StateFolder), lockFile = Path.Combine(stateFolder, "run.lock");
        Directory.CreateDirectory(stateFolder);
        bool locked = false;
        try
        {
            using var runLock = ExclusiveLock.TryAcquire(lockFile)
                ?? throw new Gpt2OnnxException($"{output} is being trained by another process: wait for that run to end, or choose another --out");
            locked = true;
            return RunLocked(requested, meta, resume, stop);
        }
        finally
        {
            // A run refused before it wrote anything leaves no folder behind (never another process's).
            if (created && locked && Directory.EnumerateFileSystemEntries(output).SequenceEqual([stateFolder])
                && Directory.EnumerateFileSystemEntries(stateFolder).SequenceEqual([lockFile]))
                Directory.Delete(output, recursive: true);
        }
    }

    private TrainSummary RunLocked(TrainOptions requested, ShardMeta meta, bool resume, CancellationToken stop)
    {
        string tokenizerDirectory = Path.Combine(requested.DataDirectory, meta.Tokenizer);
        string output = requested.OutputDirectory;
        TrainingState? saved = null;
        TrainOptions options = requested;
        if (resume)
        {
            if (!CheckpointStore.HasTrainingState(output))
                throw new Gpt2OnnxException($"{output} holds no training run to resume: drop --resume to start one there");
            saved = CheckpointStore.ReadState(output);
            // The run continues with its own settings; only its length and time budget may change.
            options = saved.Options with { Steps = requested.Steps, Minutes = requested.Minutes, DataDirectory = requested.DataDirectory, OutputDirectory = output };
            if (saved.TokenizerSha256 != meta.TokenizerSha256)
                throw new Gpt2OnnxException($"{requested.DataDirectory} was prepared with another tokenizer than the run in {output}: resume with the data it was trained on");
        }
        else if (CheckpointStore.HasTrainingState(output))
        {
            throw new Gpt2OnnxException($"{output} already holds a training run: pass --resume to continue it, or choose another --out");
        }
        Validate(options);
        // The warm-up a new run resolves is saved with it, so a resume that changes --steps does not move it.
        if (saved == null) options = options with { WarmupSteps = DefaultWarmup(options) };

        Gpt2Checkpoint? init = !resume && options.InitCheckpoint is { } initPath ? Gpt2Checkpoint.Open(initPath) : null;
        Gpt2Config config;
        int context;
        try
        {
            config = resume ? Gpt2Config.Load(Path.Combine(output, CheckpointLayout.ConfigFile))
                : init?.Config ?? ModelPresets.Resolve(options.Config) with { VocabSize = meta.VocabSize, BosTokenId = meta.EosTokenId, EosTokenId = meta.EosTokenId };
            if (config.VocabSize != meta.VocabSize)
                throw new Gpt2OnnxException($"the model's vocabulary has {config.VocabSize} ids but the data's tokenizer has {meta.VocabSize}: prepare the data with the model's tokenizer");
            if (options.Dropout is double p) config = config with { EmbdPdrop = p, AttnPdrop = p, ResidPdrop = p };
            config = config.Validate("the model configuration");
            context = options.Context ?? Math.Min(config.NPositions, 256);
            if (context > config.NPositions)
                throw new Gpt2OnnxException($"--context {context} is longer than the model's n_positions ({config.NPositions}): lower it");
            CheckBatchMemory(options.BatchSize, context, config);
        }
        catch
        {
            init?.Dispose();
            throw;
        }

        TorchRuntime.Threads = options.Threads;
        var memory = new MemoryReport();
        var device = TrainingDevice.Parse(options.Device);
        using var model = (init != null ? LoadAndDispose(init) : Gpt2Model.Create(config, options.Seed)).MoveTo(device);
        model.train();
        model.ComputeType = options.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
        var trainable = new List<(string, TorchSharp.Modules.Parameter)>();
        foreach (var (name, tensor) in model.Parameters)
        {
            if (CheckpointStore.IsFrozen(name, options)) tensor.requires_grad = false;
            else trainable.Add((name, tensor));
        }
        using var optimizer = CreateOptimizer(options, trainable);
        var checkpointing = options.ActivationCheckpointing > 0
            ? new ActivationCheckpointing(options.ActivationCheckpointing) : null;
        using var trainShard = new TokenShard(Path.Combine(options.DataDirectory, "train.bin"), meta.BytesPerToken, meta.VocabSize);
        using var valShard = new TokenShard(Path.Combine(options.DataDirectory, "val.bin"), meta.BytesPerToken, meta.VocabSize);
        var batches = new BatchSampler(trainShard, context, options.Stride, options.Noise, meta.VocabSize, options.Seed);

        int startStep = 0;
        long tokensSeen = 0;
        double elapsedBefore = 0;
        if (saved != null)
        {
            var state = CheckpointStore.Load(output, model, optimizer);
            startStep = state.Step;
            tokensSeen = state.TokensSeen;
            elapsedBefore = state.ElapsedSeconds;
            batches.Random.State = state.DataRng;
            batches.Cursor = state.DataCursor;
            try
            {
                TorchRandom.SetState(Convert.FromBase64String(state.TorchRng));
            }
            catch (ArgumentException e)
            {
                throw new Gpt2OnnxException($"{TrainingRecord.StatePath(output)}: torch_rng is not a state of this libtorch's generator ({e.Message}): the checkpoint cannot be resumed; restore it or start a new run");
            }
            _log.WriteLine($"resuming {output} at step {startStep} of {options.Steps}");
        }
        else
        {
            TorchRandom.Seed(options.Seed);
            _log.WriteLine($"training a {config.NLayer}-layer, {config.NEmbd}-wide GPT-2 ({config.ParameterCount / 1e6:F2}M parameters) " +
                           $"on {meta.TrainTokens:N0} tokens, batch {options.BatchSize}×{context}, {Counted.Of(options.Steps, "step")}, {Counted.Of(options.Threads, "thread")}");
            if (options.Bf16 && device.type == DeviceType.CPU && !CpuFeatures.HasNativeBf16)
                _log.WriteLine("warning: this CPU has no native bf16 (AVX-512 BF16 or AMX): --bf16 is emulated and slower than fp32 here");
        }
        Directory.CreateDirectory(output);

        var schedule = new LearningRateSchedule(options.LearningRate, options.LearningRate * options.MinLearningRateRatio,
                                                DefaultWarmup(options), options.Steps);
        var tokenizer = Tokenizer.Load(tokenizerDirectory);
        using var metrics = new MetricsLog(Path.Combine(output, "metrics.jsonl"), startStep);
        var clock = Stopwatch.StartNew();
        var lastLog = TimeSpan.Zero;
        int rows = options.BatchSize;
        int step = startStep;
        double lastLoss = double.NaN, tokensPerSecond = 0;
        double? lastVal = null;
        bool interrupted = false;

        void Save()
        {
            var state = new TrainingState
            {
                Step = step,
                OptimizerStep = optimizer.StepCount,
                DataRng = batches.Random.State,
                DataCursor = batches.Cursor,
                TorchRng = Convert.ToBase64String(TorchRandom.GetState()),
                TokensSeen = tokensSeen,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
                TokenizerSha256 = meta.TokenizerSha256,
                Options = options,
            };
            CheckpointStore.Save(output, model, optimizer, state, tokenizerDirectory, meta.EosTokenId);
        }

        while (step < options.Steps)
        {
            if (stop.IsCancellationRequested || options.Minutes is double minutes && clock.Elapsed.TotalMinutes >= minutes)
            {
                interrupted = stop.IsCancellationRequested;
                _log.WriteLine(interrupted ? $"stopping at step {step}: saving a checkpoint" : $"the time budget of {options.Minutes} minutes is spent at step {step}: saving a checkpoint");
                break;
            }
            var stepClock = Stopwatch.StartNew();
            step++;
            double lr = schedule.At(step);
            var (loss, gradNorm) = TrainStep(model, optimizer, checkpointing, batches, rows, context,
                                             options.GradientAccumulation, options.GradientClip, lr, device);
            if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                throw new Gpt2OnnxException($"the {(double.IsFinite(loss) ? "gradient norm" : "loss")} became {(double.IsFinite(loss) ? gradNorm : loss)} at step {step}: lower --lr (now {options.LearningRate}); the last checkpoint is intact");
            long stepTokens = (long)rows * context * options.GradientAccumulation;
            tokensSeen += stepTokens;
            tokensPerSecond = stepTokens / stepClock.Elapsed.TotalSeconds;
            lastLoss = loss;
            var row = new JsonObject
            {
                ["step"] = step, ["loss"] = Math.Round(loss, 6), ["lr"] = lr, ["grad_norm"] = Math.Round(gradNorm, 6),
                ["tokens_per_s"] = Math.Round(tokensPerSecond, 1), ["elapsed"] = Math.Round(elapsedBefore + clock.Elapsed.TotalSeconds, 3),
            };

            bool last = step == options.Steps;
            if (options.EvalEvery > 0 && (step % options.EvalEvery == 0 || last) && valShard.Length > 1)
            {
                var (valLoss, _) = Evaluator.Evaluate(model, valShard, context, rows, options.EvalBatches);
                lastVal = valLoss;
                row["val_loss"] = Math.Round(valLoss, 6);
                row["val_ppl"] = Math.Round(Math.Exp(valLoss), 3);
                metrics.Write(row);
                LossCurve.Write(output, MetricsLog.ReadCurves(metrics.Path));
                _log.WriteLine($"step {step}: val loss {valLoss:F4}, perplexity {Math.Exp(valLoss):F2}");
                WriteSample(model, tokenizer, options, meta.EosTokenId, step, output);
            }
            else
            {
                metrics.Write(row);
            }
            if (clock.Elapsed - lastLog > TimeSpan.FromSeconds(2) || last || step == startStep + 1)
            {
                lastLog = clock.Elapsed;
                double remaining = (options.Steps - step) * stepClock.Elapsed.TotalSeconds;
                if (options.Minutes is double budget) remaining = Math.Min(remaining, Math.Max(0, budget * 60 - clock.Elapsed.TotalSeconds));
                string rate = options.RelativeStep ? "relative" : $"{lr:E2}"; // Adafactor's own step size
                _log.WriteLine($"step {step}/{options.Steps} | loss {loss:F4} | lr {rate} | {tokensPerSecond:N0} tok/s | ETA {TimeSpan.FromSeconds(Math.Round(remaining)):c}");
            }
            if (options.SaveEvery > 0 && step % options.SaveEvery == 0 && !last) Save();
            _onStep?.Invoke(step, loss);
        }
        Save();
        LossCurve.Write(output, MetricsLog.ReadCurves(metrics.Path)); // the whole run, not only up to its last evaluation
        _log.WriteLine($"checkpoint at step {step} in {output}");
        _log.WriteLine(memory.Describe(model, optimizer));
        return new TrainSummary(step, lastLoss, lastVal, tokensPerSecond, interrupted, output);
    }

    /// <summary>
    /// One optimizer step: forward and backward over the micro-batches (gradients accumulate), clip, update, zero.
    /// Every tensor made inside is freed when the step's dispose scope ends, not by the garbage collector.
    /// </summary>
    /// <returns>the mean loss over the micro-batches and the gradient norm before clipping</returns>
    private static (double Loss, double GradNorm) TrainStep(Gpt2Model model, IGpt2Optimizer optimizer,
        ActivationCheckpointing? checkpointing, BatchSampler batches, int rows, int context, int microBatches,
        double clip, double lr, Device device)
    {
        using var scope = NewDisposeScope();
        var inputs = new long[rows * context];
        var targets = new long[rows * context];
        double loss = 0;
        for (int micro = 0; micro < microBatches; micro++)
        {
            batches.Next(rows, inputs, targets);
            var ids = tensor(inputs, [rows, context]).to(device);                          // (B, T) ids
            var next = tensor(targets, [rows, context]).to(device);                        // (B, T) next ids
            float microLoss = checkpointing is null ? LossAndBackward(model, ids, next, microBatches)
                : checkpointing.LossAndBackward(model, ids, next, microBatches);
            loss += microLoss / microBatches;
        }
        double gradNorm = nn.utils.clip_grad_norm_(optimizer.Trainable, clip);
        optimizer.Step(lr);
        optimizer.ZeroGrad();
        return (loss, gradNorm);
    }

    /// <summary>The loss of one micro-batch, its gradient / <paramref name="microBatches"/> added into the
    /// parameters' gradients, every activation kept for the backward pass.</summary>
    private static float LossAndBackward(Gpt2Model model, Tensor ids, Tensor next, int microBatches)
    {
        var microLoss = model.Loss(ids, next);
        (microLoss / microBatches).backward();
        return microLoss.item<float>();
    }

    /// <summary>AdamW or Adafactor over the trainable parameters, as the options name it.</summary>
    private static IGpt2Optimizer CreateOptimizer(TrainOptions options,
                                                  List<(string, TorchSharp.Modules.Parameter)> trainable) =>
        options.Optimizer == "adafactor"
            ? new Adafactor(trainable, options.WeightDecay, options.RelativeStep)
            : new Gpt2Optimizer(trainable, options.WeightDecay);

    private static Gpt2Model LoadAndDispose(Gpt2Checkpoint checkpoint)
    {
        using (checkpoint) return Gpt2Model.Load(checkpoint);
    }

    private void WriteSample(Gpt2Model model, ITokenizer tokenizer, TrainOptions options, int eos, int step, string output)
    {
        if (options.SampleTokens <= 0) return;
        var prompt = new List<int>();
        tokenizer.Encode(options.SamplePrompt, prompt);
        if (prompt.Count == 0) prompt.Add(eos);
        GenerationRequest.FitPrompt(prompt, model.Config.NPositions, options.SampleTokens, truncateLeft: true); // a long prompt's end
        // A fixed seed: samples of different steps differ only because the model changed.
        var sampling = SamplingDefaults.TrainedModel with { Seed = 1, MaxNewTokens = options.SampleTokens };
        var ids = ModelGenerator.Generate(model, prompt, sampling, [eos]);
        string text = options.SamplePrompt + tokenizer.Decode(ids.ToArray());
        _log.WriteLine($"sample at step {step}: {text.Replace("\n", " / ")}");
        File.AppendAllText(Path.Combine(output, "samples.jsonl"), new JsonObject { ["step"] = step, ["text"] = text }.ToJsonString(JsonText.Readable) + "\n");
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
            throw new Gpt2OnnxException($"--batch-size {batchSize} × --context {context} needs {logits / 1e9:F1} GB for the logits and their gradient alone " +
                                        $"(vocabulary {config.VocabSize}), beyond this machine's {available / 1e9:F1} GB: lower --batch-size, and reach a larger batch with --grad-accum");
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
        Require(o.WeightDecay >= 0 && double.IsFinite(o.WeightDecay), $"--weight-decay must be 0 or more, not {o.WeightDecay}");
        Require(o.EvalBatches > 0, $"--eval-batches must be positive, not {o.EvalBatches}");
        Require(o.SampleTokens >= 0, $"--sample-tokens must be 0 (none) or more, not {o.SampleTokens}");
        Require(o.Stride is null or > 0, $"--stride must be positive, not {o.Stride}");
        Require(o.Optimizer is "adamw" or "adafactor", $"--optimizer must be adamw or adafactor, not '{o.Optimizer}'");
        Require(o.ActivationCheckpointing >= 0,
                "--activation-checkpointing must be 0 (off) or a number of blocks per segment, " +
                $"not {o.ActivationCheckpointing}");
        // Not options of the command (a resumed run's state.json carries them): a file edited by hand.
        Require(o.MinLearningRateRatio is >= 0 and <= 1, $"min_lr_ratio must be in [0, 1], not {o.MinLearningRateRatio}");
        Require(o.GradientClip > 0 && double.IsFinite(o.GradientClip), $"grad_clip must be positive, not {o.GradientClip}");
    }
}
