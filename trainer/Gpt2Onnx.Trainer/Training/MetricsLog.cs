using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>metrics.jsonl: one line per step (step, loss, lr, tokens_per_s, elapsed; eval rows add val_loss and
/// val_ppl).</summary>
public sealed class MetricsLog : IDisposable
{
    private readonly StreamWriter _writer;

    public string Path { get; }

    /// <summary>Opens the log, first dropping rows after <paramref name="keepUpToStep"/> (a resumed run redoes
    /// them).</summary>
    public MetricsLog(string path, int keepUpToStep)
    {
        Path = path;
        if (File.Exists(path))
        {
            var kept = File.ReadLines(path).Where(line => StepOf(line) is int step && step <= keepUpToStep).ToList();
            // a crash now keeps the old log whole
            AtomicFile.WriteAllText(path, string.Concat(kept.Select(line => line + "\n")));
        }
        _writer = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write,
                                                  FileShare.Read)) { AutoFlush = true, NewLine = "\n" };
    }

    public void Write(JsonObject row) => _writer.WriteLine(row.ToJsonString());

    /// <summary>The loss curve's points: (step, loss) and (step, lr) of training rows, (step, val_loss) of eval
    /// rows.</summary>
    public sealed record Curves(List<(int Step, double Loss)> Train, List<(int Step, double Loss)> Val,
                                List<(int Step, double Value)> LearningRate);

    public static Curves ReadCurves(string path)
    {
        var curves = new Curves([], [], []);
        if (!File.Exists(path)) return curves;
        foreach (var line in File.ReadLines(path))
        {
            if (JsonNode.Parse(line) is not JsonObject row || row["step"] is null) continue;
            int step = row["step"]!.GetValue<int>();
            if (row["loss"] is { } loss) curves.Train.Add((step, loss.GetValue<double>()));
            if (row["lr"] is { } lr) curves.LearningRate.Add((step, lr.GetValue<double>()));
            if (row["val_loss"] is { } valLoss) curves.Val.Add((step, valLoss.GetValue<double>()));
        }
        return curves;
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
