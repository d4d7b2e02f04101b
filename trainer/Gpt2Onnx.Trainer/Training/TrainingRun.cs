using System.Diagnostics;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using Gpt2Onnx.Trainer.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// A training run in progress: the model and its optimizer, the data it reads, and what an exact resume needs
/// besides them (step, tokens seen, time spent, the data position, both random generators). Made from a plan, it
/// holds a new model seeded from --seed, or the saved run's weights, moments and generators restored.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly ActivationCheckpointing? _checkpointing;
    private readonly TokenShard _trainShard;
    private readonly double _elapsedBefore;

    public TrainingPlan Plan { get; }
    public TrainOptions Options => Plan.Options;
    public Device Device { get; }
    public Gpt2Model Model { get; }
    public IGpt2Optimizer Optimizer { get; }
    public TokenShard ValShard { get; }
    public BatchSampler Batches { get; }

    /// <summary>Optimizer steps done, this session's and those before a resume.</summary>
    public int Step { get; private set; }
    /// <summary>The step this session started from (0 for a new run).</summary>
    public int FirstStep { get; }
    public long TokensSeen { get; private set; }
    /// <summary>This session's wall time; started by the loop when its first step is about to run.</summary>
    public Stopwatch Clock { get; } = new();
    /// <summary>Wall time spent training, sessions before a resume included.</summary>
    public double ElapsedSeconds => _elapsedBefore + Clock.Elapsed.TotalSeconds;
    /// <summary>Tokens one optimizer step trains on: batch × context × micro-batches.</summary>
    public long TokensPerStep => (long)Options.BatchSize * Plan.Context * Options.GradientAccumulation;
    public bool IsLastStep => Step == Options.Steps;

    public TrainingRun(TrainingPlan plan)
    {
        Plan = plan;
        var options = plan.Options;
        Device = TrainingDevice.Parse(options.Device);
        Model = (plan.Init != null ? LoadAndDispose(plan.Init) : Gpt2Model.Create(plan.Config, options.Seed))
            .MoveTo(Device);
        try
        {
            Model.train();
            Model.ComputeType = options.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;
            Optimizer = CreateOptimizer(options, TrainableParameters(Model, options));
            _checkpointing = options.ActivationCheckpointing > 0
                ? new ActivationCheckpointing(options.ActivationCheckpointing) : null;
            _trainShard = OpenShard("train.bin");
            ValShard = OpenShard("val.bin");
            Batches = new BatchSampler(_trainShard, plan.Context, options.Stride, options.Noise, plan.Meta.VocabSize,
                                       options.Seed);
            if (plan.Saved != null) (FirstStep, TokensSeen, _elapsedBefore) = Restore();
            else TorchRandom.Seed(options.Seed);
            Step = FirstStep;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// One optimizer step at learning rate <paramref name="lr"/>: the micro-batches' gradients accumulate, then
    /// they are clipped and applied. Every tensor made inside is freed when the step's dispose scope ends.
    /// </summary>
    /// <returns>the mean loss over the micro-batches and the gradient norm before clipping</returns>
    public (double Loss, double GradNorm) TrainStep(double lr)
    {
        using var scope = NewDisposeScope();
        Step++;
        double loss = AccumulateMicroSteps();
        double gradNorm = ClipAndStep(lr);
        if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
            throw new Gpt2OnnxException($"the {(double.IsFinite(loss) ? "gradient norm" : "loss")} became " +
                                        $"{(double.IsFinite(loss) ? gradNorm : loss)} at step {Step}: lower --lr " +
                                        $"(now {Options.LearningRate}); the last checkpoint is intact");
        TokensSeen += TokensPerStep;
        return (loss, gradNorm);
    }

    /// <summary>Forward and backward over --grad-accum micro-batches, gradients adding up; the mean loss.</summary>
    private double AccumulateMicroSteps()
    {
        int rows = Options.BatchSize, context = Plan.Context, microBatches = Options.GradientAccumulation;
        var inputs = new long[rows * context];
        var targets = new long[rows * context];
        double loss = 0;
        for (int micro = 0; micro < microBatches; micro++)
        {
            Batches.Next(rows, inputs, targets);
            var ids = tensor(inputs, [rows, context]).to(Device);                          // (B, T) ids
            var next = tensor(targets, [rows, context]).to(Device);                        // (B, T) next ids
            float microLoss = _checkpointing is null ? LossAndBackward(Model, ids, next, microBatches)
                : _checkpointing.LossAndBackward(Model, ids, next, microBatches);
            loss += microLoss / microBatches;
        }
        return loss;
    }

    /// <summary>Clips the gradients to --grad-clip, steps, zeroes the gradients; returns the norm before.</summary>
    private double ClipAndStep(double lr)
    {
        double gradNorm = nn.utils.clip_grad_norm_(Optimizer.Trainable, Options.GradientClip);
        Optimizer.Step(lr);
        Optimizer.ZeroGrad();
        return gradNorm;
    }

    /// <summary>The loss of one micro-batch, its gradient / <paramref name="microBatches"/> added into the
    /// parameters' gradients, every activation kept for the backward pass.</summary>
    private static float LossAndBackward(Gpt2Model model, Tensor ids, Tensor next, int microBatches)
    {
        var microLoss = model.Loss(ids, next);
        (microLoss / microBatches).backward();
        return microLoss.item<float>();
    }

    /// <summary>Writes the checkpoint of this step: weights, moments, and the state that resumes it exactly.</summary>
    public void Save()
    {
        var state = new TrainingState
        {
            Step = Step,
            OptimizerStep = Optimizer.StepCount,
            DataRng = Batches.Random.State,
            DataCursor = Batches.Cursor,
            TorchRng = Convert.ToBase64String(TorchRandom.GetState()),
            TokensSeen = TokensSeen,
            ElapsedSeconds = ElapsedSeconds,
            TokenizerSha256 = Plan.Meta.TokenizerSha256,
            Options = Options,
        };
        CheckpointStore.Save(Plan.OutputDirectory, Model, Optimizer, state, Plan.TokenizerDirectory,
                             Plan.Meta.EosTokenId);
    }

    /// <summary>Reads the saved weights, moments, data position and generators into this run.</summary>
    private (int Step, long TokensSeen, double ElapsedSeconds) Restore()
    {
        string output = Plan.OutputDirectory;
        var state = CheckpointStore.Load(output, Model, Optimizer);
        Batches.Random.State = state.DataRng;
        Batches.Cursor = state.DataCursor;
        try
        {
            TorchRandom.SetState(Convert.FromBase64String(state.TorchRng));
        }
        catch (ArgumentException e)
        {
            throw new Gpt2OnnxException($"{TrainingRecord.StatePath(output)}: torch_rng is not a state of this " +
                                        $"libtorch's generator ({e.Message}): the checkpoint cannot be resumed; " +
                                        "restore it or start a new run");
        }
        return (state.Step, state.TokensSeen, state.ElapsedSeconds);
    }

    private TokenShard OpenShard(string file) =>
        new(Path.Combine(Options.DataDirectory, file), Plan.Meta.BytesPerToken, Plan.Meta.VocabSize);

    /// <summary>The parameters the optimizer updates; frozen ones (--freeze-embeddings) need no gradient.</summary>
    private static List<(string, TorchSharp.Modules.Parameter)> TrainableParameters(Gpt2Model model,
                                                                                     TrainOptions options)
    {
        var trainable = new List<(string, TorchSharp.Modules.Parameter)>();
        foreach (var (name, tensor) in model.Parameters)
        {
            if (CheckpointStore.IsFrozen(name, options)) tensor.requires_grad = false;
            else trainable.Add((name, tensor));
        }
        return trainable;
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

    public void Dispose()
    {
        ValShard?.Dispose();
        _trainShard?.Dispose();
        Optimizer?.Dispose();
        Model.Dispose();
    }
}
