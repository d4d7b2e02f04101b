using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using static Google.Protobuf.WireFormat.WireType;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// The bytes of weights one decode step at batch 1 reads, from a model.onnx's graph (read past its weight
/// bytes, not loaded): every initializer in full, except a table that only lookups read (Gather's data,
/// GatherBlockQuantized's data, scales and zero points), of which a step reads one row. Divided by the memory
/// bandwidth it is the roofline: no step at batch 1 can be faster than these bytes take to stream in.
/// </summary>
public static class WeightTraffic
{
    private sealed record Tensor(string Name, long Bytes, long Rows);

    /// <summary>Bytes read per decode step at batch 1 by the graph in <paramref name="modelPath"/>.</summary>
    public static long PerDecodeStep(string modelPath)
    {
        var tensors = new List<Tensor>();
        var readers = new Dictionary<string, List<(string Op, int Input)>>(StringComparer.Ordinal);
        try
        {
            using var file = new FileStream(modelPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            var reader = new ProtoReader(file);
            reader.Fields(file.Length, (field, wire, end) =>
            {
                if ((field, wire) == (ModelProto.GraphFieldNumber, LengthDelimited))
                    Graph(reader, end, tensors, readers);
                else reader.Skip(wire, end);
            });
        }
        catch (Exception e) when (e is InvalidDataException or OverflowException)
        {
            throw new Gpt2OnnxException($"{modelPath} is not a well-formed ONNX model ({e.Message}): export it again");
        }
        return tensors.Sum(t => OnlyLookedUp(readers.GetValueOrDefault(t.Name)) ? t.Bytes / Math.Max(1, t.Rows)
                                                                                 : t.Bytes);
    }

    /// <summary>True when every reader of a tensor is a row lookup's table (and it has readers at all).</summary>
    private static bool OnlyLookedUp(List<(string Op, int Input)>? readers) =>
        readers is { Count: > 0 } && readers.All(r => r is ("Gather", 0) or ("GatherBlockQuantized", 0 or 2 or 3));

    private static void Graph(ProtoReader reader, long end, List<Tensor> tensors,
                              Dictionary<string, List<(string, int)>> readers) =>
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (GraphProto.NodeFieldNumber, LengthDelimited): Node(reader, fieldEnd, tensors, readers); break;
                case (GraphProto.InitializerFieldNumber, LengthDelimited):
                    tensors.Add(Initializer(reader, fieldEnd));
                    break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });

    /// <summary>
    /// Records which nodes read which values; a Constant's tensor counts as a weight (exporters write some so).
    /// </summary>
    private static void Node(ProtoReader reader, long end, List<Tensor> tensors,
                             Dictionary<string, List<(string, int)>> readers)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        var values = new List<Tensor>();
        string op = "";
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (NodeProto.InputFieldNumber, LengthDelimited): inputs.Add(reader.String(fieldEnd)); break;
                case (NodeProto.OutputFieldNumber, LengthDelimited): outputs.Add(reader.String(fieldEnd)); break;
                case (NodeProto.OpTypeFieldNumber, LengthDelimited): op = reader.String(fieldEnd); break;
                case (NodeProto.AttributeFieldNumber, LengthDelimited): ConstantValue(reader, fieldEnd, values); break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });
        if (op == "Constant" && outputs.Count == 1)
            tensors.AddRange(values.Select(v => v with { Name = outputs[0] }));
        for (int i = 0; i < inputs.Count; i++)
        {
            if (!readers.TryGetValue(inputs[i], out var list)) readers[inputs[i]] = list = [];
            list.Add((op, i));
        }
    }

    /// <summary>An attribute's tensor value (AttributeProto.t), if it has one.</summary>
    private static void ConstantValue(ProtoReader reader, long end, List<Tensor> values) =>
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            if ((field, wire) == (AttributeProto.TFieldNumber, LengthDelimited))
                values.Add(Initializer(reader, fieldEnd));
            else reader.Skip(wire, fieldEnd);
        });

    /// <summary>An initializer's name, its bytes (element count × element size) and its first dimension.</summary>
    private static Tensor Initializer(ProtoReader reader, long end)
    {
        var dims = new List<long>();
        int type = 0;
        string name = "";
        reader.Fields(end, (field, wire, fieldEnd) =>
        {
            switch (field, wire)
            {
                case (TensorProto.DimsFieldNumber, Varint): dims.Add((long)reader.Varint()); break;
                case (TensorProto.DimsFieldNumber, LengthDelimited): // packed
                    while (reader.Position < fieldEnd) dims.Add((long)reader.Varint());
                    break;
                case (TensorProto.DataTypeFieldNumber, Varint): type = (int)reader.Varint(); break;
                case (TensorProto.NameFieldNumber, LengthDelimited): name = reader.String(fieldEnd); break;
                default: reader.Skip(wire, fieldEnd); break;
            }
        });
        long elements = dims.Aggregate(1L, (a, d) => d < 0 ? throw new InvalidDataException("a negative dimension")
                                                           : checked(a * d));
        long bits = checked(elements * ElementBits(type));
        return new Tensor(name, (bits + 7) / 8, dims.Count > 0 ? dims[0] : 1);
    }

    /// <summary>Bits per element of an ONNX TensorProto data type.</summary>
    private static int ElementBits(int type) => (TensorElementType)type switch
    {
        TensorElementType.UInt4 or TensorElementType.Int4 => 4,
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 or TensorElementType.Int64
            or TensorElementType.Double or TensorElementType.UInt64 or TensorElementType.Float16
            or TensorElementType.BFloat16 or TensorElementType.UInt16 or TensorElementType.Int16
            => 8 * ((TensorElementType)type).SizeOf(),
        _ => 8, // uint8, int8, bool, the float8 types
    };
}
