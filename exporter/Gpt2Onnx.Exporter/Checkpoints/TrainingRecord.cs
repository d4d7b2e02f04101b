using System.Text.Json;
using Gpt2Onnx.Runtime.IO;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// What a checkpoint folder's <c>trainer_state/state.json</c> (written by gpt2-train) says about how the
/// weights were trained, for the tools that only read the folder.
/// </summary>
public static class TrainingRecord
{
    public const string StateFolder = "trainer_state";
    public const string StateFile = "state.json";

    /// <summary>Largest state file read: the trainer's is a few hundred bytes.</summary>
    private const long MaxStateBytes = 1 << 20;

    public static string StatePath(string checkpointDirectory) => Path.Combine(checkpointDirectory, StateFolder, StateFile);

    /// <summary>
    /// The window length (tokens) the checkpoint in <paramref name="checkpointDirectory"/> was trained on,
    /// when its state says so: positions past it were never trained, so scoring defaults to it. Read only (no
    /// recovery of an interrupted save), so a run still writing the folder is left alone; a missing, damaged
    /// or oversized state, or a value that is not a positive whole number, says nothing (null).
    /// </summary>
    public static int? TrainedContext(string checkpointDirectory)
    {
        var path = StatePath(checkpointDirectory);
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists || file.Length > MaxStateBytes) return null;
            var options = JsonText.Parse(File.ReadAllBytes(path))?["options"];
            return options?["context"] is { } context && context.GetValueKind() == JsonValueKind.Number
                   && context.AsValue().TryGetValue<int>(out int tokens) && tokens > 0 ? tokens : null;
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }
    }
}
