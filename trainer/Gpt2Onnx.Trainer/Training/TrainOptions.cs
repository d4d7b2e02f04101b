using System.Text.Json.Serialization;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>Everything <c>gpt2-train train</c> takes; read from flags in one place, stored with each
/// checkpoint.</summary>
public sealed record TrainOptions
{
    [JsonPropertyName("data")] public required string DataDirectory { get; init; }
    /// <summary>A preset name from models/presets (gpt2, tiny, ...) or a config.json path; ignored with
    /// --init.</summary>
    [JsonPropertyName("config")] public string Config { get; init; } = "tiny";
    [JsonPropertyName("out")] public required string OutputDirectory { get; init; }
    [JsonPropertyName("init")] public string? InitCheckpoint { get; init; }
    [JsonPropertyName("steps")] public int Steps { get; init; } = 1000;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 8;
    /// <summary>Tokens per training window; null means the model's n_positions, capped at 256.</summary>
    [JsonPropertyName("context")] public int? Context { get; init; }
    [JsonPropertyName("grad_accum")] public int GradientAccumulation { get; init; } = 1;
    [JsonPropertyName("lr")] public double LearningRate { get; init; } = 6e-4;
    /// <summary>The cosine schedule ends at LearningRate × this.</summary>
    [JsonPropertyName("min_lr_ratio")] public double MinLearningRateRatio { get; init; } = 0.1;
    /// <summary>Linear warm-up steps; null means 10% of the steps, at most 200.</summary>
    [JsonPropertyName("warmup")] public int? WarmupSteps { get; init; }
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.1;
    [JsonPropertyName("grad_clip")] public double GradientClip { get; init; } = 1.0;
    [JsonPropertyName("eval_every")] public int EvalEvery { get; init; } = 100;
    [JsonPropertyName("eval_batches")] public int EvalBatches { get; init; } = 10;
    [JsonPropertyName("save_every")] public int SaveEvery { get; init; } = 500;
    [JsonPropertyName("sample_prompt")] public string SamplePrompt { get; init; } = "";
    [JsonPropertyName("sample_tokens")] public int SampleTokens { get; init; } = 48;
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1337;
    /// <summary>libtorch threads; resuming bit for bit needs the same number.</summary>
    [JsonPropertyName("threads")] public int Threads { get; init; } = Environment.ProcessorCount;
    /// <summary>Null: random windows; otherwise windows that start every Stride tokens, in order, wrapping
    /// around.</summary>
    [JsonPropertyName("stride")] public int? Stride { get; init; }
    [JsonPropertyName("freeze_embeddings")] public bool FreezeEmbeddings { get; init; }
    /// <summary>The probability of replacing each input token with a random one.</summary>
    [JsonPropertyName("noise")] public double Noise { get; init; }
    /// <summary>Dropout for embeddings, attention and residuals; null keeps the config's.</summary>
    [JsonPropertyName("dropout")] public double? Dropout { get; init; }
    /// <summary>
    /// Mixed precision: matrix products and attention in bf16, while the weights (the master copy), their
    /// gradients, AdamW's moments, the layer norms and the loss stay fp32.
    /// </summary>
    [JsonPropertyName("bf16")] public bool Bf16 { get; init; }
    /// <summary>"cpu", or "cuda[:N]" with a CUDA build of libtorch (GPT2ONNX_LIBTORCH).</summary>
    [JsonPropertyName("device")] public string Device { get; init; } = "cpu";
    /// <summary>"adamw", or "adafactor": factored second moments, no first moment (see <see cref="Adafactor"/>).
    /// </summary>
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "adamw";
    /// <summary>
    /// Adafactor only: the paper's relative step size instead of LearningRate and its schedule; the command sets
    /// it when --lr is not given.
    /// </summary>
    [JsonPropertyName("relative_step")] public bool RelativeStep { get; init; }
    /// <summary>
    /// Activation checkpointing: keep the input of every k-th block and recompute the rest in the backward pass;
    /// 0 keeps every activation.
    /// </summary>
    [JsonPropertyName("activation_checkpointing")] public int ActivationCheckpointing { get; init; }
    /// <summary>Stop (saving a checkpoint) after this much wall time; null for no limit.</summary>
    [JsonPropertyName("minutes")] public double? Minutes { get; init; }
}
