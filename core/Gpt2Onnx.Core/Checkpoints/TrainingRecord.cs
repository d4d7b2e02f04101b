using System.Text.Json;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Core.Checkpoints;

/// <summary>
/// What a checkpoint folder's <c>trainer_state/state.json</c> (written by gpt2-train) says about how the
/// weights were trained, for the tools that only read the folder.
/// </summary>
public static class TrainingRecord
{
    public const string StateFolder = "trainer_state";
    public const string StateFile = "state.json";

    /// <summary>Largest state file read: the trainer's is about 8 KB.</summary>
    private const long MaxStateBytes = 1 << 20;

    public static string StatePath(string checkpointDirectory) =>
        Path.Combine(checkpointDirectory, StateFolder, StateFile);

    /// <summary>
    /// The window length (tokens) the checkpoint in <paramref name="checkpointDirectory"/> was trained with,
    /// when its state says so: what its evaluation scores by default. Read only (no recovery of an interrupted
    /// save), so a run still writing the folder is left alone; a missing, damaged or oversized state, or a
    /// value that is not a positive whole number, says nothing (null).
    /// </summary>
    public static int? TrainedContext(string checkpointDirectory) => ReadOptions(checkpointDirectory)?.Context;

    /// <summary>
    /// How many positions the weights have been trained on, where that is known: the training window of a run
    /// that started from scratch. A run that started from another checkpoint (<c>--init</c>, fine-tuning GPT-2,
    /// say) inherits whatever that one was trained on, so it says nothing (null), as does a missing state.
    /// </summary>
    public static int? TrainedPositions(string checkpointDirectory) =>
        ReadOptions(checkpointDirectory) is { InitCheckpoint: false } options ? options.Context : null;

    private sealed record Options(int? Context, bool InitCheckpoint);

    private static Options? ReadOptions(string checkpointDirectory)
    {
        var path = StatePath(checkpointDirectory);
        try
        {
            if (!File.Exists(path) || BoundedFile.ReadAllBytes(path, MaxStateBytes) is not { } bytes) return null;
            var options = JsonText.Parse(bytes)?["options"];
            if (options == null) return null;
            int? context = options["context"] is { } value && value.GetValueKind() == JsonValueKind.Number
                           && value.AsValue().TryGetValue<int>(out int tokens) && tokens > 0 ? tokens : null;
            bool init = options["init"] is { } from && from.GetValueKind() != JsonValueKind.Null;
            return new Options(context, init);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException
                                  or InvalidOperationException)
        {
            return null;
        }
    }
}
