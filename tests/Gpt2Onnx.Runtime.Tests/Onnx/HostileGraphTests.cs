using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

/// <summary>Graphs damaged so that ONNX Runtime accepts them and then fails while running: one error line each, never a
/// crash.</summary>
public sealed class HostileGraphTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// A graph damaged so that running it asks for 48 TB at once (a ConstantOfShape of [3, 10^12, 4] spliced in
    /// before the LM head). ONNX Runtime does not check a custom allocator's null, so this crashed the process
    /// (SIGSEGV) with the huge-page allocator this runtime once registered; ONNX Runtime's own allocator reports
    /// it. Run as gpt2-run in a child process, so that a crash would show as one.
    /// </summary>
    [Fact]
    public async Task A_graph_asking_for_more_memory_than_the_machine_has_is_one_error_line_not_a_crash()
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        string graph = Path.Combine(folder, "model.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(graph));
        var shape = new TensorProto { Name = "huge_shape", DataType = (int)TensorElementType.Int64, Dims = { 3 },
                                      Int64Data = { 3, 1_000_000_000_000, 4 } };
        model.Graph.Initializer.Add(shape);
        model.Graph.Node.Insert(0, new NodeProto { OpType = "ConstantOfShape", Input = { "huge_shape" },
                                                   Output = { "huge_value" } });
        model.Graph.Node.Single(n => n.Name == "hidden_3d").Input[0] = "huge_value";
        File.WriteAllBytes(graph, Google.Protobuf.MessageExtensions.ToByteArray(model));

        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", "generate", "--model", folder, "--prompt-ids", "1,2",
                                                                   "--max-new-tokens", "1");
        Assert.Equal(1, exitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains("Failed to allocate memory for requested buffer of size 48000000000000", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }

    /// <summary>
    /// Graphs crafted against ONNX Runtime's GroupQueryAttention kernel, which crashed the process instead of
    /// failing: a head count of 2^62 (it passes the kernel's positive check, then becomes 0 as a 32-bit int and
    /// divides by zero), and an empty tensor as the total sequence length (a bounds assertion aborts). Loading
    /// now refuses both before ONNX Runtime sees the graph.
    /// </summary>
    [Theory]
    [InlineData("num_heads", "num_heads = 4611686018427387904, beyond the 32-bit range")]
    [InlineData("empty_total_length", "input 'empty_total_length' is an empty constant")]
    [InlineData("empty_constant_node", "input 'empty_constant_node' is an empty constant")]
    public async Task A_graph_crafted_to_crash_GroupQueryAttention_is_refused_when_it_loads(string damage,
        string expected)
    {
        var (_, _, folder) = TinyModel.Export(_dir);
        string graph = Path.Combine(folder, "model.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(graph));
        var attention = model.Graph.Node.First(n => n.OpType == "GroupQueryAttention");
        if (damage == "num_heads")
        {
            attention.Attribute.Single(a => a.Name == "num_heads").I = 1L << 62;
        }
        else
        {
            var empty = new TensorProto { Name = damage, DataType = (int)TensorElementType.Int32, Dims = { 0 } };
            if (damage == "empty_total_length") model.Graph.Initializer.Add(empty);
            else model.Graph.Node.Insert(0,
                                         new NodeProto { OpType = "Constant", Output = { damage },
                                                         Attribute = { new AttributeProto { Name = "value",
                Type = AttributeProto.Types.AttributeType.Tensor, T = empty } } });
            attention.Input[6] = damage;
        }
        File.WriteAllBytes(graph, Google.Protobuf.MessageExtensions.ToByteArray(model));

        var (exitCode, stdout, stderr) =
            await CliProcess.RunAsync("gpt2-run", "generate", "--model", folder, "--prompt-ids", "1,2",
                                      "--max-new-tokens", "1");
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
        Assert.Equal(1, exitCode);
    }
}
