using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Trainer.Torch;

namespace Gpt2Onnx.Trainer.Cli;

/// <summary><c>gpt2-train info</c>: the libtorch behind the trainer.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var command = new Command("info", "show the libtorch in use: version and where the shim was loaded from") { json };
        command.SetAction(parsed =>
        {
            string version = TorchLibrary.Version;
            string shim = TorchLibrary.ShimPath;
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { libtorch_version = version, shim_path = shim }));
            else
                Console.WriteLine($"libtorch {version} (shim {shim})");
            return 0;
        });
        return command;
    }
}
