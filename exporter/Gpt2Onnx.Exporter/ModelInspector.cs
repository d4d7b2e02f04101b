using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Runtime.Onnx;

namespace Gpt2Onnx.Exporter;

/// <summary>What <c>gpt2-export inspect</c> reports about an ONNX model.</summary>
public sealed record ModelReport(
    string Path, long IrVersion, IReadOnlyList<(string Domain, long Version)> Opsets,
    IReadOnlyList<(string Name, string Type, string Shape)> Inputs,
    IReadOnlyList<(string Name, string Type, string Shape)> Outputs,
    IReadOnlyList<(string Op, int Count)> Operators, long Parameters, IReadOnlyList<(string File, long Bytes)> Files,
    IReadOnlyList<(string Key, string Value)> Metadata);

/// <summary>Reads an ONNX file's structure without running it.</summary>
public static class ModelInspector
{
    /// <param name="path">an ONNX folder (its model.onnx) or a .onnx file</param>
    public static ModelReport Inspect(string path)
    {
        string file = Directory.Exists(path) ? System.IO.Path.Combine(path, OnnxExporter.ModelFile) : path;
        if (!File.Exists(file)) throw new Gpt2OnnxException($"{file} does not exist: pass an ONNX folder or a .onnx " +
                                                            "file");
        var model = OnnxModelFile.Read(file);
        static string TypeName(int t) =>
            Enum.IsDefined(typeof(TensorElementType), t)
                ? ((TensorElementType)t).ToString().ToLowerInvariant() : $"type{t}";
        static (string, string, string) Describe(ValueInfoProto v) =>
            (v.Name, TypeName(v.Type?.TensorType?.ElemType ?? 0),
            "[" + string.Join(", ", v.Type?.TensorType?.Shape?.Dim.Select(DimensionName) ?? []) + "]");
        static string DimensionName(TensorShapeProto.Types.Dimension d) =>
            d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue
                ? d.DimValue.ToString() : d.DimParam;
        var operators = model.Graph.Node.GroupBy(n => string.IsNullOrEmpty(n.Domain)
                                                 ? n.OpType : $"{n.Domain}.{n.OpType}")
            .Select(g => (g.Key, g.Count())).OrderByDescending(p => p.Item2).ThenBy(p => p.Key, StringComparer.Ordinal)
                .ToList();
        // an initializer named like an input is its default, not a weight
        var inputNames = model.Graph.Input.Select(i => i.Name).ToHashSet();
        long parameters = model.Graph.Initializer.Where(t => !t.Name.StartsWith("const_", StringComparison.Ordinal)
                                                        && !inputNames.Contains(t.Name))
            .Sum(t => t.DataType == (int)TensorElementType.UInt8 && t.Name.EndsWith(".q4", StringComparison.Ordinal)
                ? t.Dims.Aggregate(1L, (a, b) => a * b) * 2 // two 4-bit weights per byte
                : t.Dims.Aggregate(1L, (a, b) => a * b));
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(file))!;
        var files = new List<(string, long)> { (System.IO.Path.GetFileName(file), new FileInfo(file).Length) };
        var locations = model.Graph.Initializer.SelectMany(t => t.ExternalData)
            .Where(e => e.Key == "location").Select(e => e.Value).Distinct();
        foreach (var location in locations)
        {
            string data = System.IO.Path.Combine(folder, location);
            files.Add((location, File.Exists(data) ? new FileInfo(data).Length : -1));
        }
        return new ModelReport(file, model.IrVersion,
                               model.OpsetImport.Select(o => (string.IsNullOrEmpty(o.Domain) ? "ai.onnx" : o.Domain,
                                                              o.Version)).ToList(),
            model.Graph.Input.Select(Describe).ToList(), model.Graph.Output.Select(Describe).ToList(), operators,
            parameters, files,
            model.MetadataProps.Select(m => (m.Key, m.Value)).ToList());
    }
}
