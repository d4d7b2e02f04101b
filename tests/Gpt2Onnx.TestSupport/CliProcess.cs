using System.Diagnostics;

namespace Gpt2Onnx.TestSupport;

/// <summary>Runs a built command line (scripts/gpt2-run, gpt2-train, gpt2-export) in a child process: for what only a
/// fresh process shows, or what ends one.</summary>
public static class CliProcess
{
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string tool, params string[] arguments) =>
        RunProgramAsync(Path.Combine(RepositoryRoot.Path, "scripts", tool), null, arguments);

    /// <summary>Runs any program (in <paramref name="workingDirectory"/>, or the current one when null).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunProgramAsync(
        string program, string? workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory != null) start.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var run = Process.Start(start)!;
        var stdout = run.StandardOutput.ReadToEndAsync();
        string stderr = await run.StandardError.ReadToEndAsync();
        await run.WaitForExitAsync();
        return (run.ExitCode, await stdout, stderr);
    }
}

/// <summary>The repository the tests run in: the folder above the test binaries that holds Gpt2Onnx.sln.</summary>
public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Gpt2Onnx.sln")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (Gpt2Onnx.sln) above "
                                            + AppContext.BaseDirectory);
    }
}
