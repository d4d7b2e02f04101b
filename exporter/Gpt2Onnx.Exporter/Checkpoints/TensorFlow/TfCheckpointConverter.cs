using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>What a conversion wrote: the folder, the model's shape, and how many variables were left unread.</summary>
public sealed record TfConversion(string OutputDirectory, Gpt2Config Config, int Tensors, int Skipped);

/// <summary>
/// Writes a TensorFlow GPT-2 checkpoint folder (<see cref="TfCheckpointFolder"/>) as a Hugging Face checkpoint:
/// config.json (with "block": "gpt2_ml" for GPT2_ML), model.safetensors under GPT-2's names in float32, and
/// the tokenizer as this project reads it (OpenAI's encoder.json and vocab.bpe as vocab.json and merges.txt;
/// GPT2_ML's vocab.txt as it is). The folder is built under a temporary name and renamed.
/// </summary>
public static class TfCheckpointConverter
{
    public static TfConversion Convert(string tfDirectory, string outputDirectory, bool force = false)
    {
        if (!Directory.Exists(tfDirectory) || !TfCheckpointFolder.IsIn(tfDirectory))
            throw new Gpt2OnnxException($"{tfDirectory} holds no TensorFlow checkpoint (a 'checkpoint' file or a " +
                                        "PREFIX.index with its data shards, and no config.json): pass the folder " +
                                        "OpenAI's or GPT2_ML's release unpacks to");
        if (Directory.Exists(outputDirectory) && Directory.EnumerateFileSystemEntries(outputDirectory).Any() && !force)
            throw new Gpt2OnnxException($"{outputDirectory} exists and is not empty: pass --force to replace it");
        PathOverlap.Refuse(outputDirectory, "--out", tfDirectory, "--checkpoint");
        int skipped;
        using (var weights = TfCheckpointFolder.Open(tfDirectory).Weights) skipped = weights.SkippedCount;
        using var checkpoint = Gpt2Checkpoint.Open(tfDirectory);
        string temporary = outputDirectory.TrimEnd('/') + ".converting";
        try
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            Directory.CreateDirectory(temporary);
            checkpoint.Config.Save(Path.Combine(temporary, CheckpointLayout.ConfigFile));
            SafeTensorsFile.Write(Path.Combine(temporary, CheckpointLayout.ModelFile), Entries(checkpoint));
            CopyTokenizer(tfDirectory, temporary);
            if (Directory.Exists(outputDirectory)) Directory.Delete(outputDirectory, recursive: true);
            Directory.Move(temporary, outputDirectory);
            int tensors = CheckpointLayout.ExpectedTensors(checkpoint.Config).Count();
            return new TfConversion(outputDirectory, checkpoint.Config, tensors, skipped);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    /// <summary>Each tensor in checkpoint order as float32, read (and its checksum verified) one at a time.</summary>
    private static IEnumerable<SafeTensorsFile.Entry> Entries(Gpt2Checkpoint checkpoint) =>
        CheckpointLayout.ExpectedTensors(checkpoint.Config).Select(e =>
            new SafeTensorsFile.Entry(e.Name, TensorElementType.Float, e.Shape, checkpoint.ReadFloat32Bytes(e.Name)));

    private static void CopyTokenizer(string from, string to)
    {
        if (TfCheckpointFolder.OpenAiTokenizer(from) is { } bpe) bpe.Save(to);
        foreach (var name in new[] { "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json" })
            if (File.Exists(Path.Combine(from, name))) File.Copy(Path.Combine(from, name), Path.Combine(to, name));
    }
}
