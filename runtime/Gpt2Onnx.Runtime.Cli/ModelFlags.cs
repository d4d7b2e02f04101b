using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>The options every verb that loads a model takes: the folder, device, threads, optimisation, logging and
/// profiling.</summary>
internal sealed class ModelFlags
{
    public Option<string> Model { get; } =
        new("--model") { Description = "ONNX folder written by gpt2-export", Required = true };
    public Option<string> Device { get; } =
        new("--device") { Description = "cpu, cuda:N, or auto (CUDA when available)",
                          DefaultValueFactory = _ => "cpu" };
    public Option<int> Threads { get; } = ThreadsOption.Create("ONNX Runtime threads", 0, zeroIsEveryCore: true);
    public Option<GraphOptimization> Optimization { get; } = new("--graph-optimization")
    {
        Description = "ONNX Runtime's graph optimisation level: none, basic, extended or all",
        DefaultValueFactory = _ => GraphOptimization.All,
    };
    public Option<RuntimeLogLevel> LogLevel { get; } = new("--ort-log-level")
    {
        Description = "what ONNX Runtime itself logs on stderr: verbose, info, warning, error or fatal (an error " +
                      "stops the run as one error line either way)", DefaultValueFactory = _ => RuntimeLogLevel.Fatal,
    };
    public Option<string?> Profile { get; } = new("--profile")
    {
        Description = "also write ONNX Runtime's per-operator trace to PREFIX_DATE.json (Chrome trace format) when " +
                      "the model closes",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        AddSessionOptionsTo(command);
    }

    /// <summary>Adds every option but --model (for a verb that takes several models).</summary>
    public void AddSessionOptionsTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(Threads);
        command.Options.Add(Optimization);
        command.Options.Add(LogLevel);
        command.Options.Add(Profile);
    }

    public LanguageModel Load(ParseResult parsed) => LanguageModel.Load(parsed.GetValue(Model)!, Settings(parsed));

    public SessionSettings Settings(ParseResult parsed) => new()
    {
        Device = parsed.GetValue(Device)!, IntraOpThreads = parsed.GetValue(Threads),
        Optimization = parsed.GetValue(Optimization),
        LogLevel = parsed.GetValue(LogLevel), ProfilePrefix = parsed.GetValue(Profile),
    };
}
