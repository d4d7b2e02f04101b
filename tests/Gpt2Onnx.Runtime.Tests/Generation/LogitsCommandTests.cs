using System.Diagnostics;
using System.Globalization;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Generation;

public sealed class LogitsCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_logits_file_reads_in_NumPy_as_the_sequence_logits_of_every_position()
    {
        var (_, portable, _) = TinyModel.Export(_dir);
        string file = Path.Combine(_dir, "logits.npy");
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", "logits", "--model", portable,
                                                              "--prompt-ids", "5,6,7,8",
                                                              "--out", file);
        Assert.True(exitCode == 0, stderr);
        using var model = LanguageModel.Load(portable, new SessionSettings { IntraOpThreads = 1 });
        float[] expected = model.SequenceLogits([5, 6, 7, 8]);

        // NumPy itself reads the file: its shape, and a value from each row's start and end.
        var python = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true };
        python.ArgumentList.Add("-c");
        python.ArgumentList.Add("import numpy, sys; a = numpy.load(sys.argv[1]); " +
                                "print(a.dtype, *a.shape, *(repr(float(v)) for v in a[:, [0, -1]].ravel()))");
        python.ArgumentList.Add(file);
        using var run = Process.Start(python)!;
        var words = (await run.StandardOutput.ReadToEndAsync()).Split(' ', StringSplitOptions.TrimEntries);
        Assert.Equal(["float32", "4", model.VocabSize.ToString(CultureInfo.InvariantCulture)], words[..3]);
        int v = model.VocabSize;
        var firstAndLast = Enumerable.Range(0, 4)
                                     .SelectMany(row => new[] { expected[row * v], expected[row * v + v - 1] });
        Assert.Equal(firstAndLast, words[3..].Select(w => float.Parse(w, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Ids_outside_the_vocabulary_are_one_error_line()
    {
        var (_, portable, _) = TinyModel.Export(_dir);
        var (exitCode, _, stderr) = await CliProcess.RunAsync("gpt2-run", "logits", "--model", portable,
                                                              "--prompt-ids", "5,999999",
                                                              "--out", Path.Combine(_dir, "x.npy"));
        Assert.Equal(1, exitCode);
        Assert.Contains("outside the vocabulary", stderr);
        Assert.False(File.Exists(Path.Combine(_dir, "x.npy")));
    }
}
