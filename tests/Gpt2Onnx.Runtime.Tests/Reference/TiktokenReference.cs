using System.Diagnostics;
using System.Text.Json;

namespace Gpt2Onnx.Runtime.Tests.Reference;

/// <summary>Runs OpenAI's tiktoken (npm, "gpt2" encoding) on texts: the independent expectation for GPT-2 ids.</summary>
internal static class TiktokenReference
{
    public static int[][] Encode(IReadOnlyList<string> texts)
    {
        string input = Path.GetTempFileName();
        string output = Path.GetTempFileName();
        try
        {
            File.WriteAllText(input, JsonSerializer.Serialize(texts));
            var start = new ProcessStartInfo("node")
            {
                ArgumentList = { Path.Combine(AppContext.BaseDirectory, "Reference", "tiktoken-gpt2.js"), input, output },
                RedirectStandardError = true,
                Environment = { ["NODE_PATH"] = RepositoryPaths.NodeModules },
            };
            using var process = Process.Start(start)!;
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new InvalidOperationException("tiktoken reference failed: " + errors);
            return JsonSerializer.Deserialize<int[][]>(File.ReadAllText(output))!;
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }
}
