using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests;

/// <summary>What the command line says about values it cannot read: exit code 2 and the option, the value and what it
/// takes.</summary>
public class CommandLineTests
{
    [Theory]
    // .NET reads a comma as a thousands separator: --top-p 0,9 was 9, and --temperature 1,5 ran at 15.
    [InlineData("--top-p", "0,9", "--top-p: '0,9' is not a number (write a decimal with a point: 0.9)")]
    [InlineData("--temperature", "1,5", "--temperature: '1,5' is not a number")]
    // These named .NET types (System.Int32, Gpt2Onnx.Runtime.Onnx.GraphOptimization) and put suggestions on lines of
    // their own.
    [InlineData("--threads", "two", "--threads: 'two' is not a whole number from -2147483648 to 2147483647")]
    [InlineData("--seed", "-1", "--seed: '-1' is not a whole number from 0 to 18446744073709551615")]
    [InlineData("--stop-id", "x", "--stop-id: 'x' is not a whole number from -2147483648 to 2147483647")]
    [InlineData("--graph-optimization", "most",
                "--graph-optimization: 'most' is not one of none, basic, extended, all")]
    public async Task A_value_an_option_cannot_take_is_one_error_line_naming_both(string option, string value,
                                                                                  string expected)
    {
        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", "generate", "--model", "unused", "--prompt", "a", option, value);
        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        var lines = stderr.TrimEnd('\n').Split('\n');
        Assert.StartsWith("error: " + expected, lines[0]);
        Assert.Equal(["run 'gpt2-run --help' for usage"], lines[1..]);
    }

    [Theory]
    [InlineData("gpt2-run", "generate")]
    [InlineData("gpt2-run", "batch")]
    [InlineData("gpt2-run", "perplexity")]
    [InlineData("gpt2-run", "bench")]
    [InlineData("gpt2-run", "tokenize")]
    [InlineData("gpt2-train", "train")]
    [InlineData("gpt2-train", "prepare")]
    [InlineData("gpt2-train", "eval")]
    [InlineData("gpt2-train", "sample")]
    [InlineData("gpt2-train", "parity")]
    [InlineData("gpt2-train", "bench")]
    public async Task More_threads_than_cores_is_one_usage_error(string tool, string verb)
    {
        // --threads 1000000 ran until killed, its memory past 4 GB.
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync(tool, verb, "--threads", "1000000");
        Assert.Equal(2, exitCode);
        Assert.Equal("", stdout);
        Assert.Contains($"error: --threads 1000000 is not ", stderr);
        Assert.Contains($" to {Environment.ProcessorCount}: more threads than cores only take turns on them", stderr);
    }

    [Theory]
    [InlineData("gpt2-run tokenize --tokenizer models/gpt2-tokenizer --text", "--text")]
    [InlineData("gpt2-run generate --model unused --prompt", "--prompt")]
    [InlineData("gpt2-train sample --checkpoint unused --prompt", "--prompt")]
    [InlineData("gpt2-run generate --model unused --prompt a --stop", "--stop")]
    public async Task A_text_option_whose_bytes_are_not_UTF8_is_refused_naming_it(string command, string option)
    {
        // .NET decoded the bytes as U+FFFD and the text went on changed, while the file options refuse such bytes.
        var start = new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryRoot.Path,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"exec scripts/{command} \"$(printf 'ab\\377c')\"");
        using var run = System.Diagnostics.Process.Start(start)!;
        string stderr = await run.StandardError.ReadToEndAsync();
        await run.WaitForExitAsync();
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", await run.StandardOutput.ReadToEndAsync());
        Assert.StartsWith($"error: {option}: the value is not UTF-8 text", stderr);
    }

    [Fact]
    public async Task A_replacement_character_typed_as_text_is_text()
    {
        string tokenizer = Path.Combine(RepositoryRoot.Path, "models", "gpt2-tokenizer");
        var (exitCode, stdout, _) = await CliProcess.RunAsync("gpt2-run", "tokenize", "--tokenizer", tokenizer,
                                                              "--text", "\uFFFD");
        Assert.Equal(0, exitCode);
        Assert.Equal("4210", stdout.Trim()); // GPT-2's id for U+FFFD
    }

    [Fact]
    public async Task Decimals_with_a_point_or_an_exponent_are_read()
    {
        // Parsed, then refused by the sampler's own check: the value arrived as written.
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", "generate", "--model", "unused", "--prompt",
                                                              "a", "--top-p", "1.5e0");
        Assert.Equal(1, exitCode);
        Assert.Contains("top-p must be in (0, 1], not 1.5", stderr);
    }
}
