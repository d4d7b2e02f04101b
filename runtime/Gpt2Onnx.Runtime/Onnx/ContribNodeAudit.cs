using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx.Proto;
using static Google.Protobuf.WireFormat.WireType;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Reads the nodes of a model.onnx (skipping its weights) and refuses what ONNX Runtime's contrib kernels
/// (domain com.microsoft: GroupQueryAttention, MatMulNBits, ...) would crash the process on instead of
/// reporting: an integer attribute beyond 32 bits (the kernels read them as 32-bit ints, so 2^62 heads
/// become 0 and are divided by), and an empty constant as an input (kernels read its first value unchecked).
/// Nodes inside subgraphs and model-local functions count too. A file that does not parse is left to ONNX
/// Runtime, whose own error then names the damage.
/// </summary>
internal static class ContribNodeAudit
{
    private const string ContribDomain = "com.microsoft";
    private const int MaxDepth = 64; // subgraphs nested deeper are left to ONNX Runtime's own limit

    private sealed record Node(string Name, string OpType, string Domain, List<string> Inputs,
                               List<(string Name, long Value)> Ints);

    public static void Check(string modelPath)
    {
        var nodes = new List<Node>();
        var emptyConstants = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using var file = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var reader = new ProtoReader(file);
            reader.Fields(file.Length, (field, wire, end) =>
            {
                switch (field, wire)
                {
                    case (ModelProto.GraphFieldNumber, LengthDelimited):
                        Graph(reader, end, nodes, emptyConstants, 0); break;
                    case (ModelProto.FunctionsFieldNumber, LengthDelimited):
                        Function(reader, end, nodes, emptyConstants); break;
                    default: reader.Skip(wire, end); break;
                }
            });
        }
        catch (InvalidDataException)
        {
            return; // not a well-formed protobuf: ONNX Runtime refuses it with its own message
        }

        foreach (var node in nodes.Where(n => n.Domain == ContribDomain))
        {
            string where = $"{modelPath}: node '{node.Name}' ({node.OpType})";
            foreach (var (name, value) in node.Ints)
                if (value is < int.MinValue or > int.MaxValue)
                    throw new Gpt2OnnxException($"{where} has {name} = {value}, beyond the 32-bit range ONNX Runtime " +
                                                "reads it in: the graph is damaged or hostile; export it again");
            foreach (var input in node.Inputs)
                if (emptyConstants.Contains(input))
                    throw new Gpt2OnnxException($"{where}: its input '{input}' is an empty constant, which ONNX " +
                                                "Runtime's kernel would read past: the graph is damaged or hostile; " +
                                                "export it again");
        }
    }

    private static void Graph(ProtoReader reader, long end, List<Node> nodes, HashSet<string> emptyConstants, int depth)
    {
        if (depth > MaxDepth) { reader.SkipTo(end); return; }
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            if ((field, wire) == (GraphProto.NodeFieldNumber, LengthDelimited))
                nodes.Add(ReadNode(reader, fieldEnd, nodes, emptyConstants, depth));
            else if ((field, wire) == (GraphProto.InitializerFieldNumber, LengthDelimited))
            {
                var (name, empty) = Tensor(reader, fieldEnd);
                if (empty) emptyConstants.Add(name);
            }
            else reader.Skip(wire, fieldEnd);
        });
    }

    private static void Function(ProtoReader reader, long end, List<Node> nodes, HashSet<string> emptyConstants) =>
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            if ((field, wire) == (FunctionProto.NodeFieldNumber, LengthDelimited))
                nodes.Add(ReadNode(reader, fieldEnd, nodes, emptyConstants, 1));
            else reader.Skip(wire, fieldEnd);
        });

    private static Node ReadNode(ProtoReader reader, long end, List<Node> nodes, HashSet<string> emptyConstants,
                                 int depth)
    {
        string name = "", opType = "", domain = "";
        var inputs = new List<string>();
        var outputs = new List<string>();
        var ints = new List<(string, long)>();
        bool emptyValue = false;
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (NodeProto.InputFieldNumber, LengthDelimited): inputs.Add(reader.String(fieldEnd)); break;
                case (NodeProto.OutputFieldNumber, LengthDelimited): outputs.Add(reader.String(fieldEnd)); break;
                case (NodeProto.NameFieldNumber, LengthDelimited): name = reader.String(fieldEnd); break;
                case (NodeProto.OpTypeFieldNumber, LengthDelimited): opType = reader.String(fieldEnd); break;
                case (NodeProto.DomainFieldNumber, LengthDelimited): domain = reader.String(fieldEnd); break;
                case (NodeProto.AttributeFieldNumber, LengthDelimited):
                    emptyValue |= Attribute(reader, fieldEnd, ints, nodes, emptyConstants, depth);
                    break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });
        if (opType == "Constant" && domain is "" or "ai.onnx" && emptyValue)
            foreach (var output in outputs) emptyConstants.Add(output);
        return new Node(name, opType, domain, inputs, ints);
    }

    /// <summary>Collects an attribute's integers and walks its subgraphs; true when its tensor value is
    /// empty.</summary>
    private static bool Attribute(ProtoReader reader, long end, List<(string, long)> ints, List<Node> nodes,
                                  HashSet<string> emptyConstants, int depth)
    {
        string name = "";
        var values = new List<long>();
        bool empty = false;
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (AttributeProto.NameFieldNumber, LengthDelimited): name = reader.String(fieldEnd); break;
                case (AttributeProto.IFieldNumber, Varint): values.Add((long)reader.Varint()); break;
                case (AttributeProto.IntsFieldNumber, Varint): values.Add((long)reader.Varint()); break;
                case (AttributeProto.IntsFieldNumber, LengthDelimited): // packed
                    while (reader.Position < fieldEnd) values.Add((long)reader.Varint());
                    break;
                case (AttributeProto.TFieldNumber, LengthDelimited): empty = Tensor(reader, fieldEnd).Empty; break;
                case (AttributeProto.GFieldNumber, LengthDelimited):
                case (AttributeProto.GraphsFieldNumber, LengthDelimited):
                    Graph(reader, fieldEnd, nodes, emptyConstants, depth + 1);
                    break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });
        ints.AddRange(values.Select(v => (name, v)));
        return empty && name == "value";
    }

    /// <summary>A TensorProto's name, and whether one of its dimensions is 0.</summary>
    private static (string Name, bool Empty) Tensor(ProtoReader reader, long end)
    {
        string name = "";
        bool empty = false;
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (TensorProto.DimsFieldNumber, Varint): empty |= reader.Varint() == 0; break;
                case (TensorProto.DimsFieldNumber, LengthDelimited): // packed
                    while (reader.Position < fieldEnd) empty |= reader.Varint() == 0;
                    break;
                case (TensorProto.NameFieldNumber, LengthDelimited): name = reader.String(fieldEnd); break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });
        return (name, empty);
    }
}
