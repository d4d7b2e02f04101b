using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Runtime.IO;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>metrics.jsonl: one line per step (step, loss, lr, tokens_per_s, elapsed; eval rows add val_loss and val_ppl).</summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    public string Path { get; }

    /// <summary>Opens the log, first dropping rows after <paramref name="keepUpToStep"/> (a resumed run redoes them).</summary>
    public MetricsLog(string path, int keepUpToStep)
    {
        Path = path;
        if (File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(line => StepOf(line) is int step && step <= keepUpToStep).ToList();
            AtomicFile.WriteAllText(path, string.Concat(kept.Select(line => line + "\n"))); // a crash now keeps the old log whole
        }
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)) { AutoFlush = true, NewLine = "\n" };
    }

    public void Write(JsonObject row) => _writer.WriteLine(row.ToJsonString());

    /// <summary>(step, loss) of training rows and (step, val_loss) of eval rows, for the loss curve.</summary>
    public static (List<(int, double)> Train, List<(int, double)> Val) ReadCurves(string path)
    {
        var train = new List<(int, double)>();
        var val = new List<(int, double)>();
        if (!File.Exists(path)) return (train, val);
        foreach (var line in File.ReadLines(path))
        {
            if (JsonNode.Parse(line) is not JsonObject row || row["step"] is null) continue;
            int step = row["step"]!.GetValue<int>();
            if (row["loss"] is { } loss) train.Add((step, loss.GetValue<double>()));
            if (row["val_loss"] is { } valLoss) val.Add((step, valLoss.GetValue<double>()));
        }
        return (train, val);
    }

    private static int? StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"]?.GetValue<int>();
        }
        catch (JsonException)
        {
            return null; // a torn last line from a crash
        }
    }

    public void Dispose() => _writer.Dispose();
}
