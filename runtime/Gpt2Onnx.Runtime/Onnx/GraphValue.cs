using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>A graph input or output: its name, element type and dimensions (-1 and a name where symbolic).</summary>
public sealed record GraphValue(string Name, TensorElementType ElementType, long[] Dimensions,
                                string[] SymbolicDimensions)
{
    public override string ToString() =>
        $"{Name}: {ElementType} [{string.Join(", ", Dimensions.Select((d, i) => d >= 0 ? d.ToString()
            : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";
}
