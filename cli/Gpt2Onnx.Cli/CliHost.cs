using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text.RegularExpressions;
using Gpt2Onnx.Core;

namespace Gpt2Onnx.Cli;

/// <summary>
/// The exit-code contract every gpt2-* command shares: 0 on success, 1 on a user error (one line on
/// stderr saying what was wrong and what to do), 2 on bad usage.
/// </summary>
public static class CliHost
{
    public const int Success = 0;
    public const int UserError = 1;
    public const int BadUsage = 2;

    public static int Run(RootCommand root, string[] args)
    {
        // Numbers in output and JSON read the same on every machine, whatever its locale.
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        ReadDecimalsWithAPointOnly(root);
        if (ArgumentNotUtf8(args) is { } notText)
        {
            Console.Error.WriteLine($"error: {notText}");
            Console.Error.WriteLine($"run '{root.Name} --help' for usage");
            return BadUsage;
        }
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
                Console.Error.WriteLine($"error: {Describe(error.Message)}");
            Console.Error.WriteLine($"run '{root.Name} --help' for usage");
            return BadUsage;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (BadUsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine($"run '{root.Name} {parsed.CommandResult.Command.Name} --help' for usage");
            return BadUsage;
        }
        catch (Exception e) when (UserErrorIn(e) is { } userError)
        {
            Console.Error.WriteLine($"error: {OneLine(userError.Message)}");
            return UserError;
        }
    }

    /// <summary>
    /// The argument whose bytes are not UTF-8, named by its option: .NET decodes the command line with replacement
    /// characters, so a --prompt or --text with such bytes reached the model as U+FFFD, silently, while the file
    /// options refuse them. The bytes as given are read from /proc/self/cmdline (Linux); elsewhere, or when they
    /// are not this process's arguments (a host that runs the tool in its own process), nothing is checked.
    /// </summary>
    private static string? ArgumentNotUtf8(string[] args)
    {
        byte[] commandLine;
        try
        {
            commandLine = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var given = new List<byte[]>(); // each argument ends with a NUL byte
        for (int start = 0, end; (end = Array.IndexOf(commandLine, (byte)0, start)) >= 0; start = end + 1)
            given.Add(commandLine[start..end]);
        if (given.Count < args.Length) return null;
        for (int i = 0; i < args.Length; i++)
        {
            byte[] raw = given[given.Count - args.Length + i];
            if (System.Text.Unicode.Utf8.IsValid(raw) || System.Text.Encoding.UTF8.GetString(raw) != args[i]) continue;
            string option = args[i].StartsWith("--") ? args[i].Split('=')[0]
                : i > 0 && args[i - 1].StartsWith("--") ? args[i - 1] : $"argument {i + 1}";
            return $"{option}: the value is not UTF-8 text (bytes no character is made of): give it in UTF-8, or put " +
                   "the text in a UTF-8 file and pass that";
        }
        return null;
    }

    /// <summary>
    /// Number options read "0.9" and "1e-4" but refuse "0,9": .NET's default number parsing takes the comma
    /// as a thousands separator, so "--top-p 0,9" would be 9 and "--temperature 1,5" silently 15.
    /// </summary>
    private static void ReadDecimalsWithAPointOnly(Command command)
    {
        foreach (var option in command.Options)
        {
            if (option is Option<double> number) number.CustomParser = result => Decimal(result, option.Name) ?? 0;
            else if (option is Option<double?> optional) optional.CustomParser = result => Decimal(result, option.Name);
        }
        foreach (var subcommand in command.Subcommands) ReadDecimalsWithAPointOnly(subcommand);
    }

    private static double? Decimal(ArgumentResult result, string name)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return value;
        result.AddError($"{name}: '{text}' is not a number (write a decimal with a point: 0.9)");
        return null;
    }

    /// <summary>
    /// A parse error in the user's words: System.CommandLine names .NET types ("as expected type
    /// 'System.Int32'") and puts its suggestions on lines of their own.
    /// </summary>
    internal static string Describe(string message)
    {
        var match = Regex.Match(message,
                                @"^Cannot parse argument '(?<value>.*?)' for option '(?<option>[^']+)' as expected " +
                                @"type '(?<type>[^']+)'\.", RegexOptions.Singleline);
        if (!match.Success) return OneLine(message);
        string type = match.Groups["type"].Value;
        var enumType = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(type))
            .FirstOrDefault(t => t is { IsEnum: true });
        string expected = type switch
        {
            "System.Int32" => $"a whole number from {int.MinValue} to {int.MaxValue}",
            "System.Int64" => $"a whole number from {long.MinValue} to {long.MaxValue}",
            "System.UInt64" => $"a whole number from 0 to {ulong.MaxValue}",
            _ when enumType != null => "one of "
                + string.Join(", ", Enum.GetNames(enumType).Select(n => n.ToLowerInvariant())),
            _ => "a value this option takes",
        };
        return OneLine($"{match.Groups["option"].Value}: '{match.Groups["value"].Value}' is not {expected}");
    }

    /// <summary>
    /// An error message as one line of at most 1,000 characters: messages quote names and lines from the
    /// user's files, which a damaged or hostile file can make long or break across lines.
    /// </summary>
    public static string OneLine(string message)
    {
        message = message.ReplaceLineEndings(" ");
        return message.Length <= 1000 ? message : message[..999] + "…";
    }

    /// <summary>
    /// The user error behind <paramref name="e"/>: itself, the one a type initializer threw (a native
    /// library that cannot be loaded surfaces on first use, wrapped in a TypeInitializationException), or a
    /// file system refusal.
    /// </summary>
    private static Gpt2OnnxException? UserErrorIn(Exception e) => e switch
    {
        Gpt2OnnxException userError => userError,
        TypeInitializationException { InnerException: { } inner } => UserErrorIn(inner),
        // Work spread over threads (Parallel.ForEach, PLINQ) hands back its errors wrapped.
        AggregateException many => many.Flatten().InnerExceptions.Select(UserErrorIn).FirstOrDefault(x => x != null),
        // A path that cannot be read or written (missing folder, permissions, a full disk): the system's words say
        // which.
        IOException or UnauthorizedAccessException =>
            new Gpt2OnnxException($"{e.Message.TrimEnd('.')}: check the path, its permissions and the free space"),
        _ => null,
    };

    /// <summary>Options that contradict each other or are out of range: exit code 2, like a parse error.</summary>
    public sealed class BadUsageException(string message) : Exception(message);

    /// <summary>Throws a usage error when <paramref name="condition"/> is false.</summary>
    public static void Require(bool condition, string message)
    {
        if (!condition) throw new BadUsageException(message);
    }
}
