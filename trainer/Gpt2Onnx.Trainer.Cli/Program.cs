using System.CommandLine;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Trainer.Cli;

var root = new RootCommand("gpt2-train: train, evaluate and sample GPT-2 models on libtorch")
{
    InfoCommand.Create(),
};
return CliHost.Run(root, args);
