using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Runtime.Cli;

var root = new RootCommand("gpt2-run: run exported GPT-2 ONNX models and their tokenizers from .NET")
{
    InfoCommand.Create(),
    GenerateCommand.Create(),
    BenchCommand.Create(),
    BatchCommand.Create(),
    PerplexityCommand.Create(),
    LogitsCommand.Create(),
    LensCommand.Create(),
    TokenizeCommand.Create(),
    ServeCommand.Create(),
};
return CliHost.Run(root, args);
