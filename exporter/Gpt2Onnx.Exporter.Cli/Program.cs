using System.CommandLine;
using Gpt2Onnx.Cli;

var root = new RootCommand("gpt2-export: write a GPT-2 checkpoint as an ONNX graph with a key/value cache");
return CliHost.Run(root, args);
