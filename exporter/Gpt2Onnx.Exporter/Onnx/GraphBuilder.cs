using Google.Protobuf;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Exporter.Onnx;

/// <summary>
/// Builds an ONNX graph node by node. Every value gets a deterministic name derived from what produces
/// it, so the same checkpoint always gives the same bytes. Weights are wrapped, not copied.
/// </summary>
internal sealed class GraphBuilder
{
    private readonly Dictionary<string, int> _nameCounts = new();
    private readonly Dictionary<string, string> _constants = new();

    public GraphProto Graph { get; } = new() { Name = "gpt2" };

    /// <summary>Total bytes of initializer data, to decide on external storage.</summary>
    public long InitializerBytes { get; private set; }

    /// <summary>Adds a node with one output, named <paramref name="name"/> (made unique if taken); returns the output's
    /// name.</summary>
    public string Node(string op, IEnumerable<string> inputs, string name, params AttributeProto[] attributes) =>
        Nodes(op, inputs, name, 1, attributes)[0];

    /// <summary>Adds a node in the com.microsoft domain (ONNX Runtime's contrib operators).</summary>
    public string[] ContribNode(string op, IEnumerable<string> inputs, string name, int outputs,
                                params AttributeProto[] attributes) =>
        Nodes(op, inputs, name, outputs, attributes, "com.microsoft");

    /// <summary>
    /// Adds a node. Its outputs are named after the node (name_0, name_1, ...) unless
    /// <paramref name="outputNames"/> gives them exactly (graph outputs, such as present.0.key).
    /// </summary>
    public string[] Nodes(string op, IEnumerable<string> inputs, string name, int outputs, AttributeProto[] attributes,
                          string domain = "", string[]? outputNames = null)
    {
        string unique = Unique(name);
        var node = new NodeProto { OpType = op, Name = unique, Domain = domain };
        node.Input.AddRange(inputs);
        var names = outputNames ?? Enumerable.Range(0, outputs).Select(i => outputs == 1 ? unique : $"{unique}_{i}")
            .ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return names;
    }

    public string Initializer(string name, TensorElementType type, long[] dims, ByteString data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = data };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        InitializerBytes += data.Length;
        return name;
    }

    public string Initializer(string name, TensorElementType type, long[] dims, byte[] data) =>
        Initializer(name, type, dims, UnsafeByteOperations.UnsafeWrap(data));

    /// <summary>A shared int64 constant (1-D, or a scalar when <paramref name="scalar"/>).</summary>
    public string Int64s(bool scalar = false, params long[] values) => SharedConstant(TensorElementType.Int64, scalar,
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray(),
        "i64_" + string.Join("_", values).Replace('-', 'm'));

    /// <summary>A shared floating-point scalar of <paramref name="type"/> (float, or float16 for fp16
    /// graphs).</summary>
    public string Float(float value, TensorElementType type = TensorElementType.Float) => type switch
    {
        TensorElementType.Float => SharedConstant(type, true, BitConverter.GetBytes(value),
                                                  "f32_" + BitConverter.SingleToInt32Bits(value).ToString("x8")),
        TensorElementType.Float16 => SharedConstant(type, true, BitConverter.GetBytes((Half)value),
                                                    "f16_" + BitConverter.HalfToInt16Bits((Half)value).ToString("x4")),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "a float constant is float or float16"),
    };

    /// <summary><paramref name="x"/> cast to <paramref name="type"/>; no node when <paramref name="from"/> is already
    /// that type.</summary>
    public string Cast(string x, TensorElementType from, TensorElementType type, string name) =>
        from == type ? x : Node("Cast", [x], name, Int("to", (long)type));

    private string SharedConstant(TensorElementType type, bool scalar, byte[] bytes, string key)
    {
        key += scalar ? "_s" : "";
        if (_constants.TryGetValue(key, out var existing)) return existing;
        long count = bytes.Length / type.SizeOf();
        _constants[key] = Initializer("const_" + key, type, scalar ? [] : [count], bytes);
        return _constants[key];
    }

    public void Input(string name, TensorElementType type, params object[] dims) =>
        Graph.Input.Add(Value(name, type, dims));

    /// <summary>An int64 scalar input with a default value (an initializer of the same name), so a run may leave it
    /// out.</summary>
    public string OptionalScalarInput(string name, long defaultValue)
    {
        Input(name, TensorElementType.Int64);
        return Initializer(name, TensorElementType.Int64, [], BitConverter.GetBytes(defaultValue));
    }

    public void Output(string name, TensorElementType type, params object[] dims) =>
        Graph.Output.Add(Value(name, type, dims));

    private static ValueInfoProto Value(string name, TensorElementType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string p ? new TensorShapeProto.Types.Dimension { DimParam = p }
                                        : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto { Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }

    private string Unique(string name)
    {
        int count = _nameCounts.GetValueOrDefault(name);
        _nameCounts[name] = count + 1;
        return count == 0 ? name : $"{name}_{count}";
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };
    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };
    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
