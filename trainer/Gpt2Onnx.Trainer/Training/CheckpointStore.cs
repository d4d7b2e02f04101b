using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Trainer.Data;
using Gpt2Onnx.Trainer.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Saves and restores a training run's checkpoint folder (Hugging Face layout plus trainer_state/).
/// A save is crash-safe at every instant: the three files that change together (optimizer moments,
/// weights, state.json) are first written completely as *.pending, state.json.pending last; then they
/// are renamed over the old ones, state.json last. Opening a folder finishes an interrupted rename
/// sequence (state.json.pending exists, so every pending file is complete) or discards pending files
/// that were never completed, so a run always resumes from one consistent step; the temporary files of
/// a write that a crash cut short are deleted too.
/// </summary>
public static class CheckpointStore
{
    private const string Pending = ".pending";
    private static string OptimizerPath(string dir) => Path.Combine(dir, TrainingState.OptimizerFile);
    private static string ModelPath(string dir) => Path.Combine(dir, CheckpointLayout.ModelFile);
    private static string[] CommitOrder(string dir) =>
        [OptimizerPath(dir), ModelPath(dir), TrainingRecord.StatePath(dir)];

    public static bool HasTrainingState(string directory)
    {
        Recover(directory);
        return File.Exists(TrainingRecord.StatePath(directory));
    }

    public static void Save(string directory, Gpt2Model model, IGpt2Optimizer optimizer, TrainingState state,
                            string tokenizerDirectory, int eosTokenId)
    {
        Directory.CreateDirectory(Path.Combine(directory, TrainingRecord.StateFolder));
        var stepMetadata = new Dictionary<string, string> { ["step"] = state.Step.ToString(), ["format"] = "pt" };

        // Written from the tensors' own memory: no second copy of the weights or the optimizer state.
        TensorFileWriter.Write(OptimizerPath(directory) + Pending, optimizer.State.ToList(), stepMetadata);
        var weights = model.Parameters.Select(p => (p.Name, (TorchSharp.torch.Tensor)p.Tensor)).ToList();
        TensorFileWriter.Write(ModelPath(directory) + Pending, weights, stepMetadata);
        state = state with { Sha256 = TrainingState.SavedFiles.ToDictionary(f => f,
                                                                            f => Sha256(Path.Combine(directory, f)
                                                                                        + Pending)) };
        AtomicFile.WriteAllText(TrainingRecord.StatePath(directory) + Pending,
                                JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));

        // Files that never change within a run: written atomically, before the commit.
        model.Config.Save(Path.Combine(directory, CheckpointLayout.ConfigFile));
        TokenizerFolder.CopyTo(tokenizerDirectory, directory);
        WriteGenerationConfig(directory, model.Config, eosTokenId);

        foreach (var path in CommitOrder(directory)) File.Move(path + Pending, path, overwrite: true);
    }

    /// <summary>Restores weights, moments and state saved by <see cref="Save"/> into a model and optimizer of the same
    /// shape.</summary>
    public static TrainingState Load(string directory, Gpt2Model model, IGpt2Optimizer optimizer)
    {
        Recover(directory);
        var state = ReadState(directory);
        using var file = SafeTensorsFile.Open(OptimizerPath(directory));
        CheckStep(file.Metadata, state.Step, OptimizerPath(directory));
        using (var checkpoint = Gpt2Checkpoint.Open(directory))
        {
            CheckStep(checkpoint.Metadata, state.Step, ModelPath(directory));
            CheckSha256(directory, state);
        }
        using (var weights = SafeTensorsFile.Open(ModelPath(directory)))
            foreach (var (name, tensor) in model.Parameters) ReadInto(weights, name, tensor);
        foreach (var (name, value) in optimizer.State) ReadInto(file, name, value);
        optimizer.StepCount = state.OptimizerStep;
        return state;
    }

    public static TrainingState ReadState(string directory)
    {
        Recover(directory);
        string path = TrainingRecord.StatePath(directory);
        if (!File.Exists(path))
            throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}, so {directory} cannot be resumed: drop " +
                                        "--resume to start a new run there, or pass the folder of a run");
        return JsonText.ReadFile<TrainingState>(path, "the checkpoint cannot be resumed; restore it or start a new run")
            .Validate(path);
    }

    public static bool IsFrozen(string name, TrainOptions options) =>
        options.FreezeEmbeddings && name is "wte.weight" or "wpe.weight";

    /// <summary>Finishes or discards a save that a crash interrupted, and deletes the files it was still
    /// writing.</summary>
    private static void Recover(string directory)
    {
        AtomicFile.RemoveAbandoned(directory);
        AtomicFile.RemoveAbandoned(Path.Combine(directory, TrainingRecord.StateFolder));
        var order = CommitOrder(directory);
        bool complete = File.Exists(TrainingRecord.StatePath(directory) + Pending);
        foreach (var path in order)
        {
            if (!File.Exists(path + Pending)) continue;
            if (complete) File.Move(path + Pending, path, overwrite: true);
            else File.Delete(path + Pending);
        }
    }

    private static void CheckStep(IReadOnlyDictionary<string, string> metadata, int step, string path)
    {
        if (!metadata.TryGetValue("step", out var saved) || saved != step.ToString())
            throw new Gpt2OnnxException($"{path} is from step {(saved ?? "?")} but trainer_state/state.json is at " +
                                        $"step {step}: the checkpoint was changed by hand; restore it or start a new " +
                                        "run");
    }

    /// <summary>The saved files against the SHA-256 state.json recorded for them: a damaged byte would otherwise resume
    /// into a diverging run.</summary>
    private static void CheckSha256(string directory, TrainingState state)
    {
        if (state.Sha256 == null) return; // saved before checksums were recorded
        foreach (var (file, expected) in state.Sha256)
            if (Sha256(Path.Combine(directory, file)) != expected)
                throw new Gpt2OnnxException($"{Path.Combine(directory, file)} does not match the SHA-256 that " +
                                            "trainer_state/state.json recorded for it: the file is damaged or was " +
                                            "replaced; restore it or start a new run");
    }

    private static string Sha256(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>
    /// Overwrites <paramref name="target"/> with a tensor of a file this store wrote: float32 bytes are read
    /// straight into a CPU tensor's memory, so a 1.5B model resumes without a second copy of its weights.
    /// </summary>
    private static void ReadInto(SafeTensorsFile file, string name, Tensor target)
    {
        var info = Info(file, name, target.shape);
        using var noGrad = no_grad();
        if (info.DType == TensorElementType.Float && target.device.type == DeviceType.CPU
            && target.dtype == ScalarType.Float32 && target.is_contiguous())
            file.ReadBytes(info, target.bytes);
        else
        {
            using var values = tensor(file.ReadFloat32(info), target.shape);
            target.copy_(values);
        }
    }

    private static SafeTensorInfo Info(SafeTensorsFile file, string name, long[] shape)
    {
        if (!file.Tensors.TryGetValue(name, out var info))
            throw new Gpt2OnnxException($"{file.Path} lacks '{name}': the saved state does not match the model; " +
                                        "start a new run");
        if (!info.Shape.SequenceEqual(shape))
            throw new Gpt2OnnxException($"{file.Path}: '{name}' is [{string.Join(", ", info.Shape)}] where the " +
                                        $"run keeps [{string.Join(", ", shape)}]: restore the checkpoint " +
                                        "or start a new run");
        return info;
    }

    /// <summary>
    /// generation_config.json with the trainer's sampling defaults (<see cref="SamplingDefaults.TrainedModel"/>)
    /// and this vocabulary's end-of-text id.
    /// </summary>
    public static void WriteGenerationConfig(string directory, Gpt2Config config, int eosTokenId)
    {
        var generation = new JsonObject
        {
            ["bos_token_id"] = config.BosTokenId,
            ["eos_token_id"] = eosTokenId,
            ["pad_token_id"] = eosTokenId,
            ["max_length"] = config.NPositions,
        };
        foreach (var (key, value) in HuggingFaceSampling.Write(SamplingDefaults.TrainedModel)) generation[key] = value;
        AtomicFile.WriteAllText(Path.Combine(directory, CheckpointLayout.GenerationConfigFile),
                                generation.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
