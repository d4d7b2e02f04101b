using System.Text.Json.Serialization;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;

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
    /// <summary>
    /// SHA-256 (lowercase hex) of the files saved with this state, by their path in the run's folder
    /// (<see cref="SavedFiles"/>), checked before a resume reads them; absent in runs saved before it was recorded.
    /// </summary>
    [JsonPropertyName("sha256")] public Dictionary<string, string>? Sha256 { get; init; }

    /// <summary>The optimizer's moments, as a path in the run's folder.</summary>
    public const string OptimizerFile = TrainingRecord.StateFolder + "/optimizer.safetensors";

    /// <summary>The files a save writes beside state.json, as paths in the run's folder.</summary>
    public static readonly string[] SavedFiles = [CheckpointLayout.ModelFile, OptimizerFile];

    /// <summary>
    /// Checks what a resume would use before any of it is used: a damaged or edited state is one error naming
    /// the entry, not an exception deep in the run (the options are checked with the command's own rules).
    /// </summary>
    public TrainingState Validate(string path)
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new Gpt2OnnxException($"{path}: {message}: the checkpoint cannot be resumed; restore it " +
                                                 "or start a new run");
        }
        Require(Step >= 0 && OptimizerStep >= 0 && TokensSeen >= 0 && DataCursor >= 0,
                $"step ({Step}), optimizer_step ({OptimizerStep}), tokens_seen ({TokensSeen}) and data_cursor " +
                $"({DataCursor}) must be 0 or more");
        Require(double.IsFinite(ElapsedSeconds) && ElapsedSeconds >= 0,
                $"elapsed_seconds must be 0 or more, not {ElapsedSeconds}");
        Require(DataRng is { Length: 4 } && DataRng.Any(x => x != 0),
                "data_rng must be the four numbers of a xoshiro256 state, not all zero");
        Require(TorchRng.Length > 0 && Convert.TryFromBase64String(TorchRng, new byte[TorchRng.Length], out _),
                "torch_rng must be libtorch's generator state in base64");
        Require(Sha256 == null || (Sha256.Count == SavedFiles.Length
                                   && SavedFiles.All(f => Sha256.TryGetValue(f, out var hex) && hex.Length == 64
                                                     && hex.All(char.IsAsciiHexDigitLower))),
                $"sha256 must give the 64-digit SHA-256 of {string.Join(" and ", SavedFiles)}");
        return this;
    }
}
