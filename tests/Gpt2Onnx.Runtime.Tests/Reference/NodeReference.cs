using System.Diagnostics;
using System.Text.Json;

namespace Gpt2Onnx.Runtime.Tests.Reference;

/// <summary>Runs a reference script of Reference/ under node on a JSON input and reads its JSON answer.</summary>
internal static class NodeReference
{
    public static TResult Run<TResult>(string script, object input)
    {
        string inputPath = Path.GetTempFileName();
        string outputPath = Path.GetTempFileName();
        try
        {
            File.WriteAllText(inputPath, JsonSerializer.Serialize(input));
            var start = new ProcessStartInfo("node")
            {
                ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Reference", script), inputPath, outputPath },
                RedirectStandardError = true,
                Environment = { ["NODE_PATH"] = RepositoryPaths.NodeModules },
            };
            using var process = Process.Start(start)!;
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException($"the reference {script} failed: {errors}");
            return JsonSerializer.Deserialize<TResult>(File.ReadAllText(outputPath))!;
        }
        finally
        {
            File.Delete(inputPath);
            File.Delete(outputPath);
        }
    }
}
