using System.CommandLine;

namespace Gpt2Onnx.Cli;

/// <summary>
/// A --threads option bounded by the machine: at most one thread per core this process may use
/// (<see cref="Environment.ProcessorCount"/>, which follows a container's CPU limit). More threads than cores only
/// take turns on the same cores, and a count in the millions would have ONNX Runtime start threads until memory
/// runs out; such a count is one usage error instead.
/// </summary>
public static class ThreadsOption
{
    /// <param name="what">what the threads run, for the help text ("ONNX Runtime threads")</param>
    /// <param name="zeroIsEveryCore">whether 0 asks for one thread per core (else the least is 1)</param>
    public static Option<int> Create(string what, int defaultValue, bool zeroIsEveryCore)
    {
        int least = zeroIsEveryCore ? 0 : 1, cores = Environment.ProcessorCount;
        string range = zeroIsEveryCore ? $"0 (one per core) or 1 to {cores}" : $"1 to {cores}";
        var option = new Option<int>("--threads")
        {
            Description = $"{what}: {range}, the cores this process may use",
            DefaultValueFactory = _ => defaultValue,
        };
        option.Validators.Add(result =>
        {
            // The default, or not a number at all (which the option's own parse error reports), is not checked here.
            if (result.Tokens.Count == 0 || !int.TryParse(result.Tokens[^1].Value, out int threads)) return;
            if (threads < least || threads > cores)
                result.AddError($"--threads {threads} is not {range}: more threads than cores only take turns on them");
        });
        return option;
    }
}
