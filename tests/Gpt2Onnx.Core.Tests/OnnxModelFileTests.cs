using Google.Protobuf;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;

namespace Gpt2Onnx.Core.Tests;

/// <summary>Reading a whole ONNX model: a damaged file or one without a graph is one error line.</summary>
public sealed class OnnxModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static ModelProto Model() => new()
    {
        IrVersion = 8, Graph = new GraphProto { Name = "g", Node = { new NodeProto { OpType = "Identity",
                                                                                      Input = { "x" },
                                                                                      Output = { "y" } } } },
    };

    [Fact]
    public void A_model_reads_back_as_written()
    {
        string path = Path.Combine(_dir, "model.onnx");
        File.WriteAllBytes(path, Model().ToByteArray());
        Assert.Equal(Model(), OnnxModelFile.Read(path));
    }

    [Fact]
    public void A_file_cut_short_is_refused_as_incomplete()
    {
        string path = Path.Combine(_dir, "model.onnx");
        var bytes = Model().ToByteArray();
        File.WriteAllBytes(path, bytes[..^3]);
        var e = Assert.Throws<Gpt2OnnxException>(() => OnnxModelFile.Read(path));
        Assert.StartsWith($"{path} is not a valid ONNX model (", e.Message);
        Assert.EndsWith("): is the file complete?", e.Message);
    }

    [Fact]
    public void A_message_without_a_graph_is_refused()
    {
        string path = Path.Combine(_dir, "empty.onnx");
        File.WriteAllBytes(path, new ModelProto { IrVersion = 8 }.ToByteArray());
        Assert.Equal($"{path} holds no graph: is it an ONNX model?",
                     Assert.Throws<Gpt2OnnxException>(() => OnnxModelFile.Read(path)).Message);
    }
}
