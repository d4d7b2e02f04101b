using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Trainer.Tests;

/// <summary>
/// gpt2-train tokenizer on input that is not text, and on an --out that is not a folder of its own: one error line
/// naming the file, exit code 1, and nothing written.
/// </summary>
public sealed class TokenizerCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<(int ExitCode, string Stdout, string Stderr)> Tokenizer(string input, string output,
                                                                               string kind = "bpe") =>
        CliProcess.RunAsync("gpt2-train", "tokenizer", "--input", input, "--kind", kind, "--vocab-size", "300",
                            "--out", output);

    /// <summary>The last line of stderr, after it was checked to be the only error line.</summary>
    private static string OneError(string stderr)
    {
        var errors = stderr.Split('\n').Where(line => line.StartsWith("error: ")).ToList();
        Assert.Single(errors);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
        return errors[0];
    }

    [Theory]
    [InlineData("bpe")]
    [InlineData("wordpiece")]
    public async Task A_binary_file_is_one_error_line_naming_it(string kind)
    {
        // It died with an unhandled AggregateException and a stack trace.
        string input = Path.Combine(_dir, "binary.txt");
        File.WriteAllBytes(input, [0x61, 0x20, 0xFF, 0xFE, 0x80, 0x62]);
        var (exitCode, _, stderr) = await Tokenizer(input, Path.Combine(_dir, "out"), kind);
        Assert.Equal(1, exitCode);
        Assert.Contains($"{input} is not UTF-8 text", OneError(stderr));
        Assert.False(Directory.Exists(Path.Combine(_dir, "out")));
    }

    [Fact]
    public async Task A_malformed_JSONL_line_is_one_error_line_naming_it()
    {
        string input = Path.Combine(_dir, "rows.jsonl");
        File.WriteAllText(input, "{\"text\": \"good\"}\n{\"text\": \"cut\n");
        var (exitCode, _, stderr) = await Tokenizer(input, Path.Combine(_dir, "out"));
        Assert.Equal(1, exitCode);
        Assert.Contains($"{input}:2: not valid JSON", OneError(stderr));
    }

    [Fact]
    public async Task A_device_that_never_ends_is_refused_at_its_first_bytes()
    {
        var (exitCode, _, stderr) = await Tokenizer("/dev/zero", Path.Combine(_dir, "out"));
        Assert.Equal(1, exitCode);
        Assert.Contains("/dev/zero holds a NUL character", OneError(stderr));
    }

    [Fact]
    public async Task A_checkpoint_folder_as_out_is_refused_and_its_vocabulary_kept()
    {
        // It replaced the checkpoint's vocabulary, after which export and generation ran on garbage.
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config());
        File.WriteAllText(Path.Combine(checkpoint, "vocab.json"), "{}");
        string input = Path.Combine(_dir, "text.txt");
        File.WriteAllText(input, "the quick brown fox jumps over the lazy dog");
        var (exitCode, _, stderr) = await Tokenizer(input, checkpoint);
        Assert.Equal(1, exitCode);
        Assert.Contains($"--out {checkpoint} holds config.json", OneError(stderr));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(checkpoint, "vocab.json")));
    }

    [Fact]
    public async Task An_out_that_holds_an_input_is_refused()
    {
        string corpus = Path.Combine(_dir, "corpus");
        Directory.CreateDirectory(corpus);
        File.WriteAllText(Path.Combine(corpus, "a.txt"), "the quick brown fox jumps over the lazy dog");
        var (exitCode, _, stderr) = await Tokenizer(corpus, corpus);
        Assert.Equal(1, exitCode);
        Assert.Contains($"--out {corpus} is the --input {corpus} itself", OneError(stderr));
        Assert.Equal(["a.txt"], Directory.GetFiles(corpus).Select(Path.GetFileName));
    }
}
