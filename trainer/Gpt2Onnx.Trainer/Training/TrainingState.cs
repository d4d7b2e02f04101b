using System.Text.Json.Serialization;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>trainer_state/state.json: everything besides weights and moments that an exact resume needs.</summary>
public sealed record TrainingState
{
    [JsonPropertyName("step")] public int Step { get; init; }
    [JsonPropertyName("optimizer_step")] public long OptimizerStep { get; init; }
    [JsonPropertyName("data_rng")] public ulong[] DataRng { get; init; } = [];
    [JsonPropertyName("data_cursor")] public long DataCursor { get; init; }
    /// <summary>libtorch's CPU generator (dropout), base64.</summary>
    [JsonPropertyName("torch_rng")] public string TorchRng { get; init; } = "";
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("elapsed_seconds")] public double ElapsedSeconds { get; init; }
    [JsonPropertyName("tokenizer_sha256")] public string TokenizerSha256 { get; init; } = "";
    [JsonPropertyName("options")] public required TrainOptions Options { get; init; }
}
