using System.CommandLine;
using System.Text.Json;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary><c>gpt2-run info</c>: the ONNX Runtime version in use and its execution providers.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "print one JSON object on stdout" };
        var command = new Command("info", "show the ONNX Runtime version in use and its execution providers") { json };
        command.SetAction(parsed =>
        {
            string version = ModelSession.RuntimeVersion;
            string[] providers = Microsoft.ML.OnnxRuntime.OrtEnv.Instance().GetAvailableProviders();
            if (parsed.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new { onnxruntime_version = version,
                                                                 execution_providers = providers }));
            else
                Console.WriteLine($"ONNX Runtime {version} (execution providers: {string.Join(", ", providers)})");
            return 0;
        });
        return command;
    }
}
