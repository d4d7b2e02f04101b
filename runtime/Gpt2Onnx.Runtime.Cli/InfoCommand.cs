using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run info</c>: which ONNX Runtime library is loaded, and its version.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var command = new Command("info", "show the ONNX Runtime library in use and its version") { json };
        command.SetAction(parsed =>
        {
            string version = OrtLibrary.Version;
            string path = OrtLibrary.LoadedFrom;
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { onnxruntime_version = version, onnxruntime_path = path }));
            else
                Console.WriteLine($"ONNX Runtime {version} ({path})");
            if (version != OrtLibrary.ExpectedVersion)
                Console.Error.WriteLine($"warning: this project is tested with ONNX Runtime {OrtLibrary.ExpectedVersion}; run scripts/setup.sh to install it");
            return 0;
        });
        return command;
    }
}
