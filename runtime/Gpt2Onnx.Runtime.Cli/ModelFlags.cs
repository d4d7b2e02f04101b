using System.CommandLine;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>The options every verb that loads a model takes: the folder, device and threads.</summary>
internal sealed class ModelFlags
{
    public Option<string> Model { get; } = new("--model") { Description = "ONNX folder written by gpt2-export", Required = true };
    public Option<string> Device { get; } = new("--device") { Description = "cpu, cuda:N, or auto (CUDA when available)", DefaultValueFactory = _ => "cpu" };
    public Option<int> Threads { get; } = new("--threads") { Description = "ONNX Runtime threads (0 = one per core)", DefaultValueFactory = _ => 0 };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Device);
        command.Options.Add(Threads);
    }

    public LanguageModel Load(ParseResult parsed, string? profilePrefix = null) => LanguageModel.Load(parsed.GetValue(Model)!,
        new SessionSettings { Device = parsed.GetValue(Device)!, IntraOpThreads = parsed.GetValue(Threads), ProfilePrefix = profilePrefix });
}
