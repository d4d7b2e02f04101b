using Gpt2Onnx.Exporter.Onnx.Proto;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

/// <summary>Graphs damaged so that ONNX Runtime accepts them and then fails while running: one error line each, never a crash.</summary>
public sealed class HostileGraphTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A graph damaged so that running it asks for 48 TB at once (a ConstantOfShape of [3, 10^12, 4] spliced in
    /// before the LM head). ONNX Runtime does not check a custom allocator's null, so this crashed the process
    /// (SIGSEGV) on huge pages; now either allocator ends the run with one error line and exit code 1. Run as
    /// gpt2-run in a child process, since the refusal on huge pages ends the process.
    /// </summary>
    [Theory]
    [InlineData(true, "ONNX Runtime asked for 48,000,000,000,000 bytes at once, more than this machine's")]
    [InlineData(false, "Failed to allocate memory for requested buffer of size 48000000000000")]
    public async Task A_graph_asking_for_more_memory_than_the_machine_has_is_one_error_line_not_a_crash(bool hugePages, string expected)
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        string graph = Path.Combine(folder, "model.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(graph));
        var shape = new TensorProto { Name = "huge_shape", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { 3, 1_000_000_000_000, 4 } };
        model.Graph.Initializer.Add(shape);
        model.Graph.Node.Insert(0, new NodeProto { OpType = "ConstantOfShape", Input = { "huge_shape" }, Output = { "huge_value" } });
        model.Graph.Node.Single(n => n.Name == "hidden_3d").Input[0] = "huge_value";
        File.WriteAllBytes(graph, Google.Protobuf.MessageExtensions.ToByteArray(model));

        string[] arguments = ["generate", "--model", folder, "--prompt-ids", "1,2", "--max-new-tokens", "1", .. (hugePages ? Array.Empty<string>() : ["--no-huge-pages"])];
        var (exitCode, stdout, stderr) = await CliProcess.RunAsync("gpt2-run", arguments);
        Assert.Equal(1, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }
}
