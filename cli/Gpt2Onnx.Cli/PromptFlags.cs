using System.CommandLine;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Cli;

/// <summary>
/// The prompt options every generating command takes (gpt2-run generate, gpt2-train sample), declared and
/// read in one place so that both read a prompt the same way.
/// </summary>
public sealed class PromptFlags
{
    public Option<string?> Prompt { get; } =
        new("--prompt") { Description = "the text to continue (empty: start a new text)" };
    public Option<string?> File { get; } =
        new("--prompt-file") { Description = "the text to continue, read from a UTF-8 file exactly as it is, a final " +
                                             "line break included (- reads standard input)" };
    public Option<bool> Truncate { get; } =
        new("--truncate") { Description = "drop the prompt's start when it does not fit the context" };

    /// <summary>More than any context holds as text; a larger file is refused unread.</summary>
    private const long MaxFileBytes = 16 << 20;

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Prompt, File, Truncate }) command.Options.Add(option);
    }

    /// <summary>The prompt's text, from --prompt or --prompt-file; null when neither is given.</summary>
    public string? ReadText(ParseResult parsed)
    {
        string? text = parsed.GetValue(Prompt), path = parsed.GetValue(File);
        CliHost.Require(text == null || path == null, "give --prompt or --prompt-file, not both");
        return path == null ? text : TextFile.Read(path == "-" ? "/dev/stdin" : path, MaxFileBytes,
                                                   "no context holds a prompt that long: pass its end");
    }
}
