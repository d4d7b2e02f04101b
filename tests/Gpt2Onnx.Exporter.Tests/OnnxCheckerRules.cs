using Gpt2Onnx.Core.Onnx.Proto;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// The structural rules of the ONNX checker that a graph builder can break: every value named and typed,
/// every node input defined before the node (a graph input, an initializer or an earlier output), each
/// name produced once (an initializer may share an input's name: the input's default), every graph output
/// produced, and only the standard operators of opset 17.
/// </summary>
internal static class OnnxCheckerRules
{
    private static readonly HashSet<string> Opset17 =
    [
        "Add", "And", "Cast", "Concat", "Div", "Erf", "Gather", "Gemm", "LayerNormalization", "LessOrEqual", "MatMul",
        "Mul",
        "Neg", "Pow", "Range", "Reshape", "Shape", "Slice", "Softmax", "Split", "Sub", "Tanh", "Transpose", "Unsqueeze",
        "Where",
    ];

    public static void Check(string modelPath)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath));
        var graph = model.Graph;
        var defined = new HashSet<string>();
        void Define(string name, string what)
        {
            Assert.False(string.IsNullOrEmpty(name), $"an unnamed {what}");
            Assert.True(defined.Add(name), $"'{name}' ({what}) is defined twice");
        }
        foreach (var input in graph.Input)
        {
            Define(input.Name, "graph input");
            Assert.NotEqual(0, input.Type.TensorType.ElemType);
        }
        var inputs = graph.Input.Select(i => i.Name).ToHashSet();
        foreach (var initializer in graph.Initializer)
        {
            // else the input's default value
            if (!inputs.Contains(initializer.Name)) Define(initializer.Name, "initializer");
            Assert.NotEqual(0, initializer.DataType);
        }
        foreach (var node in graph.Node)
        {
            Assert.Equal("", node.Domain);
            Assert.Contains(node.OpType, Opset17);
            foreach (var input in node.Input.Where(i => i.Length > 0))
                Assert.True(defined.Contains(input),
                            $"{node.Name} ({node.OpType}) reads '{input}', which nothing before it defines");
            foreach (var output in node.Output) Define(output, $"output of {node.Name}");
        }
        foreach (var output in graph.Output)
        {
            Assert.True(defined.Contains(output.Name), $"the graph output '{output.Name}' is never produced");
            Assert.NotEqual(0, output.Type.TensorType.ElemType);
        }
        var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet();
        Assert.All(graph.Node.SelectMany(n => n.Output),
                   o => Assert.True(used.Contains(o), $"'{o}' is computed but never used"));
    }
}
