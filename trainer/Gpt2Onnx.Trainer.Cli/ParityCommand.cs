using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Trainer.Parity;
using Gpt2Onnx.Trainer.Torch;
using Spectre.Console;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train parity</c>: trainer against runtime on a prompt set; exit code 1 when outside
/// tolerance.</summary>
internal static class ParityCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "checkpoint folder", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "ONNX folder exported from it", Required = true };
        var prompts = new Option<string?>("--prompts") { Description = "a text file with one prompt per line " +
                                                                       "(default: a built-in diverse set)" };
        var report = new Option<string>("--report") { Description = "where to write the JSON report", Required = true };
        var tokens = new Option<int>("--tokens") { Description = "tokens per greedy and sampled continuation",
                                                   DefaultValueFactory = _ => 12 };
        var threads = ThreadsOption.Create("threads for libtorch and ONNX Runtime", Environment.ProcessorCount,
                                           zeroIsEveryCore: false);
        var command = new Command("parity",
                                  "compare the trainer's and the runtime's outputs for a checkpoint and its export")
        {
            checkpoint, onnx, prompts, report, tokens, threads,
        };
        command.SetAction(parsed =>
        {
            TorchRuntime.Threads = parsed.GetValue(threads);
            IReadOnlyList<(string, string)>? set = null;
            if (parsed.GetValue(prompts) is { } file)
            {
                set = TextFile.Read(file, 16 << 20, "pass fewer prompts").Split('\n').Select(l => l.TrimEnd('\r'))
                    .Where(l => l.Length > 0).Select((l, i) => ($"prompt-{i + 1}", l)).ToList();
                if (set.Count == 0) throw new Gpt2OnnxException($"{file} holds no prompt: write one per line");
            }
            var result = ParityCheck.Run(parsed.GetValue(checkpoint)!, parsed.GetValue(onnx)!, set,
                                         parsed.GetValue(tokens));
            AtomicFile.WriteAllText(parsed.GetValue(report)!,
                                    JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true })
                                        + "\n");
            Print(result);
            Console.WriteLine($"report: {parsed.GetValue(report)}");
            return result.Passed ? 0 : 1;
        });
        return command;
    }

    public static void Print(ParityReport report)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out),
                                                                   Ansi = AnsiSupport.No, ColorSystem =
                                                                       ColorSystemSupport.NoColors });
        console.Profile.Width = 110;
        var table = new Table().AddColumns("prompt", "tokens", "max |Δ|", "max rel", "top-1", "cache |Δ|", "greedy",
                                           "sampled");
        foreach (var p in report.Prompts)
            table.AddRow(new Text(p.Name), new Text(p.Tokens.ToString()), new Text(p.MaxAbsDiff.ToString("E2")),
                         new Text(p.MaxRelDiff.ToString("E2")),
                         new Text(p.Top1Agreement.ToString("P1")), new Text(p.CacheMaxAbsDiff.ToString("E2")),
                         new Text(p.GreedyIdentical ? "same" : $"differs at {p.GreedyDivergesAt}"),
                         new Text(p.SampledIdentical ? "same" : $"differs at {p.SampledDivergesAt}"));
        console.WriteLine($"parity: {report.Variant} {report.Precision} ({report.Onnx}) vs libtorch " +
                          $"({report.Checkpoint})");
        console.Write(table);
        console.WriteLine($"overall: max |Δlogit| {report.MaxAbsDiff:E2}, max rel {report.MaxRelDiff:E2}, top-1 " +
                          $"{report.Top1Agreement:P2}, cache vs full {report.CacheMaxAbsDiff:E2}, greedy " +
                          $"{(report.GreedyIdentical ? "identical" : "differs")}, sampled " +
                          $"{(report.SampledIdentical ? "identical" : "differs")}, batch " +
                          $"{(report.BatchIdentical ? "identical" : "differs")}");
        console.WriteLine(report.Passed ? "PASSED" : "FAILED: " + string.Join("; ", report.Failures));
    }
}
