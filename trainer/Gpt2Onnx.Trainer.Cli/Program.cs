using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Trainer.Cli;

var root = new RootCommand("gpt2-train: train, evaluate and sample GPT-2 models on libtorch")
{
    TokenizerCommand.Create(),
    PrepareCommand.Create(),
    TrainCommand.Create(),
    EvalCommand.Create(),
    SampleCommand.Create(),
    ParityCommand.Create(),
    BenchCommand.Create(),
    InfoCommand.Create(),
    ConvertCommand.Create(),
};
return CliHost.Run(root, args);
