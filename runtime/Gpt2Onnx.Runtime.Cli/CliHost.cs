using System.CommandLine;
using Gpt2Onnx.Runtime;

namespace Gpt2Onnx.Cli;

/// <summary>
/// The exit-code contract every gpt2-* command shares: 0 on success, 1 on a user error (one line on
/// stderr saying what was wrong and what to do), 2 on bad usage. Linked into the three command lines.
/// </summary>
public static class CliHost
{
    public const int Success = 0;
    public const int UserError = 1;
    public const int BadUsage = 2;

    public static int Run(RootCommand root, string[] args)
    {
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
                Console.Error.WriteLine($"error: {error.Message}");
            Console.Error.WriteLine($"run '{root.Name} --help' for usage");
            return BadUsage;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Gpt2OnnxException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UserError;
        }
    }

    /// <summary>An option whose value must be given.</summary>
    public static Option<T> Required<T>(string name, string description) =>
        new(name) { Description = description, Required = true };

    /// <summary>An option with a default value that help shows.</summary>
    public static Option<T> Optional<T>(string name, string description, T defaultValue) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaultValue };
}
