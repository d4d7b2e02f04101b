using System.Diagnostics;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Runtime.Tokenizers;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>How a training run ended.</summary>
public sealed record TrainSummary(int Step, double LastLoss, double? ValLoss, double TokensPerSecond, bool Interrupted,
                                  string OutputDirectory);

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
        string stateFolder = Path.Combine(output, TrainingRecord.StateFolder);
        string lockFile = Path.Combine(stateFolder, "run.lock");
        Directory.CreateDirectory(stateFolder);
        bool locked = false;
        try
        {
            using var runLock = ExclusiveLock.TryAcquire(lockFile)
                ?? throw new Gpt2OnnxException($"{output} is being trained by another process: wait for that run " +
                                               "to end, or choose another --out");
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

    /// <summary>
    /// The run, read as nanoGPT's train.py: plan it, build the model and data, then step until the last step or
    /// a stop, each step recorded, evaluated and saved when due; a checkpoint at the end either way.
    /// </summary>
    private TrainSummary RunLocked(TrainOptions requested, ShardMeta meta, bool resume, CancellationToken stop)
    {
        var plan = TrainingPlan.Resolve(requested, meta, resume);
        TorchRuntime.Threads = plan.Options.Threads;
        var memory = new MemoryReport();
        using var run = new TrainingRun(plan);
        AnnounceStart(run);
        Directory.CreateDirectory(plan.OutputDirectory);
        var schedule = plan.Schedule;
        var tokenizer = Tokenizer.Load(plan.TokenizerDirectory);
        using var metrics = new MetricsLog(Path.Combine(plan.OutputDirectory, "metrics.jsonl"), run.Step);
        var progress = new ProgressLine(_log);
        double loss = double.NaN, tokensPerSecond = 0;
        double? valLoss = null;
        bool interrupted = false;
        run.Clock.Start();
        while (run.Step < plan.Options.Steps && !StopRequested(run, stop, out interrupted))
        {
            var stepClock = Stopwatch.StartNew();
            double lr = schedule.At(run.Step + 1);
            (loss, double gradNorm) = run.TrainStep(lr);                   // forward, backward, clip, update
            tokensPerSecond = run.TokensPerStep / stepClock.Elapsed.TotalSeconds;
            var row = MetricsRow(run, loss, lr, gradNorm, tokensPerSecond);
            double? evaluated = EvaluateIfDue(run, row);                   // adds val_loss and val_ppl to the row
            metrics.Write(row);
            if (evaluated is double val) ReportEvaluation(run, val, metrics.Path, tokenizer);
            valLoss = evaluated ?? valLoss;
            progress.WriteIfDue(run, loss, lr, tokensPerSecond, stepClock.Elapsed);
            SaveIfDue(run);
            _onStep?.Invoke(run.Step, loss);
        }
        run.Save();
        // The whole run's curve, not only up to its last evaluation.
        LossCurve.Write(plan.OutputDirectory, MetricsLog.ReadCurves(metrics.Path));
        _log.WriteLine($"checkpoint at step {run.Step} in {plan.OutputDirectory}");
        _log.WriteLine(memory.Describe(run.Model, run.Optimizer));
        return new TrainSummary(run.Step, loss, valLoss, tokensPerSecond, interrupted, plan.OutputDirectory);
    }

    /// <summary>The first line of a session: what a new run trains, or where a resumed one continues.</summary>
    private void AnnounceStart(TrainingRun run)
    {
        var (options, config, meta) = (run.Options, run.Plan.Config, run.Plan.Meta);
        if (run.Plan.Saved != null)
        {
            _log.WriteLine($"resuming {options.OutputDirectory} at step {run.FirstStep} of {options.Steps}");
            return;
        }
        _log.WriteLine($"training a {config.NLayer}-layer, {config.NEmbd}-wide GPT-2 " +
                       $"({config.ParameterCount / 1e6:F2}M parameters) on {meta.TrainTokens:N0} tokens, " +
                       $"batch {options.BatchSize}×{run.Plan.Context}, {Counted.Of(options.Steps, "step")}, " +
                       $"{Counted.Of(options.Threads, "thread")}");
        if (options.Bf16 && run.Device.type == DeviceType.CPU && !CpuFeatures.HasNativeBf16)
            _log.WriteLine("warning: this CPU has no native bf16 (AVX-512 BF16 or AMX): --bf16 is emulated and " +
                           "slower than fp32 here");
    }

    /// <summary>
    /// Whether to stop before the next step: on Ctrl-C or SIGTERM (<paramref name="interrupted"/>), or when the
    /// --minutes budget is spent; either way the loop's end saves a checkpoint.
    /// </summary>
    private bool StopRequested(TrainingRun run, CancellationToken stop, out bool interrupted)
    {
        interrupted = stop.IsCancellationRequested;
        bool outOfTime = run.Options.Minutes is double minutes && run.Clock.Elapsed.TotalMinutes >= minutes;
        if (!interrupted && !outOfTime) return false;
        _log.WriteLine(interrupted ? $"stopping at step {run.Step}: saving a checkpoint"
            : $"the time budget of {run.Options.Minutes} minutes is spent at step {run.Step}: saving a checkpoint");
        return true;
    }

    /// <summary>The step's row of metrics.jsonl.</summary>
    private static JsonObject MetricsRow(TrainingRun run, double loss, double lr, double gradNorm,
                                         double tokensPerSecond) => new()
    {
        ["step"] = run.Step, ["loss"] = Math.Round(loss, 6), ["lr"] = lr, ["grad_norm"] = Math.Round(gradNorm, 6),
        ["tokens_per_s"] = Math.Round(tokensPerSecond, 1), ["elapsed"] = Math.Round(run.ElapsedSeconds, 3),
    };

    /// <summary>
    /// The validation loss every --eval-every steps and at the last step, added to the step's metrics row; null when
    /// none is due or the validation shard holds no window.
    /// </summary>
    private static double? EvaluateIfDue(TrainingRun run, JsonObject row)
    {
        var options = run.Options;
        bool due = options.EvalEvery > 0 && (run.Step % options.EvalEvery == 0 || run.IsLastStep);
        if (!due || run.ValShard.Length <= 1) return null;
        var (valLoss, _) = Evaluator.Evaluate(run.Model, run.ValShard, run.Plan.Context, options.BatchSize,
                                              options.EvalBatches);
        row["val_loss"] = Math.Round(valLoss, 6);
        row["val_ppl"] = Math.Round(Math.Exp(valLoss), 3);
        return valLoss;
    }

    /// <summary>After an evaluation: the loss curve redrawn, a log line, and a sample of the model's writing.</summary>
    private void ReportEvaluation(TrainingRun run, double valLoss, string metricsPath, ITokenizer tokenizer)
    {
        LossCurve.Write(run.Plan.OutputDirectory, MetricsLog.ReadCurves(metricsPath));
        _log.WriteLine($"step {run.Step}: val loss {valLoss:F4}, perplexity {Math.Exp(valLoss):F2}");
        TrainingSample.Write(run.Model, tokenizer, run.Options, run.Plan.Meta.EosTokenId, run.Step, _log);
    }

    /// <summary>A checkpoint every --save-every steps; the last step's is written when the loop ends.</summary>
    private static void SaveIfDue(TrainingRun run)
    {
        if (run.Options.SaveEvery > 0 && run.Step % run.Options.SaveEvery == 0 && !run.IsLastStep) run.Save();
    }
}
