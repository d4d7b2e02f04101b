using System.Diagnostics;
using Google.Protobuf;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using TensorElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// A model's weight products and nothing else: every MatMul, Gemm, FusedMatMul and MatMulNBits that multiplies
/// by a weight, each fed from a graph input of its own width, with the model's own weights and attributes, in a
/// session of its own. A decode step runs these same kernels on the same bytes, and more besides (attention,
/// norms, the runtime's own work), so the time of one run of this graph is a floor that ONNX Runtime's kernels
/// put under the step: no change to the rest of the graph or to the runtime can take a step below it.
/// </summary>
public sealed class WeightProducts : IDisposable
{
    private static readonly HashSet<string> ProductOps = ["MatMul", "Gemm", "FusedMatMul", "MatMulNBits"];
    private readonly InferenceSession _session;
    private readonly OrtIoBinding _binding;
    private readonly RunOptions _runOptions = new();
    private readonly List<OrtValue> _values = [];
    private readonly ExecutionDevice _device;

    /// <summary>How many products the graph holds.</summary>
    public int Count { get; }

    /// <summary>The weight products of <paramref name="modelPath"/> for <paramref name="batch"/> rows at once.
    /// </summary>
    public WeightProducts(string modelPath, int batch, SessionSettings settings)
    {
        ContribNodeAudit.Check(modelPath);
        var products = ProductsOnly(OnnxModelFile.Read(modelPath), batch);
        Count = products.Graph.Node.Count;
        if (Count == 0)
            throw new Gpt2OnnxException($"{modelPath} has no product with a weight (MatMul, Gemm, FusedMatMul, " +
                                        "MatMulNBits) to time");
        ModelSession.EnsureEnvironment();
        using var options = ModelSession.Options(settings);
        // Weights stored in model.onnx.data are read from the model's folder, as when the model itself loads.
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path",
                                      Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
        _device = CudaProvider.Append(options, settings);
        try
        {
            _session = new InferenceSession(products.ToByteArray(), options);
        }
        catch (OnnxRuntimeException e)
        {
            _device.Dispose();
            throw new Gpt2OnnxException($"{modelPath}'s weight products could not be loaded: " +
                                        ModelSession.OneLine(e.Message), e);
        }
        _binding = _session.CreateIoBinding();
        var random = new Random(11);
        foreach (var input in products.Graph.Input)
            _binding.BindInput(input.Name, Tensor(input.Type.TensorType, random));
        foreach (var output in products.Graph.Output)
            _binding.BindOutput(output.Name, Tensor(output.Type.TensorType, null));
    }

    /// <summary>The median time of <paramref name="runs"/> runs, after <paramref name="warmup"/> untimed.</summary>
    public double MedianRunMs(int runs = 200, int warmup = 20)
    {
        for (int i = 0; i < warmup; i++) _session.RunWithBinding(_runOptions, _binding);
        var times = new double[runs];
        for (int i = 0; i < runs; i++)
        {
            long start = Stopwatch.GetTimestamp();
            _session.RunWithBinding(_runOptions, _binding);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[runs / 2];
    }

    /// <summary>
    /// The graph of <paramref name="model"/>'s weight products: each one's activation becomes an input
    /// (batch × its width), its output a graph output, and only the initializers they read are kept.
    /// </summary>
    internal static ModelProto ProductsOnly(ModelProto model, int batch)
    {
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        var graph = new GraphProto { Name = "weight products" };
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Node)
        {
            if (Product(node, initializers) is not { } product) continue;
            var (width, outputs, type) = product;
            var copy = node.Clone();
            bool transA = Attribute(node, "transA") == 1;
            copy.Input[0] = $"activation {graph.Node.Count}";
            graph.Input.Add(Value(copy.Input[0], type, transA ? [width, batch] : [batch, width]));
            graph.Output.Add(Value(node.Output[0], type, [batch, outputs]));
            graph.Node.Add(copy);
            foreach (var name in copy.Input.Skip(1))
                if (name != "" && kept.Add(name)) graph.Initializer.Add(initializers[name]);
        }
        var products = new ModelProto { IrVersion = model.IrVersion, Graph = graph };
        products.OpsetImport.AddRange(model.OpsetImport);
        return products;
    }

    /// <summary>
    /// The activation's width, the output's width and the element type of a product with a weight; null for any
    /// other node, or one that reads an activation anywhere but its first input.
    /// </summary>
    private static (long Width, long Outputs, int Type)? Product(NodeProto node,
                                                                 Dictionary<string, TensorProto> initializers)
    {
        if (!ProductOps.Contains(node.OpType) || node.Input.Count < 2 || node.Output.Count != 1) return null;
        if (node.Input.Skip(1).Any(name => name != "" && !initializers.ContainsKey(name))) return null;
        var weight = initializers[node.Input[1]];
        if (node.OpType == "MatMulNBits")
        {
            if (node.Input.Count < 3) return null;
            if (!MatchesItsWeight(node, weight))
                throw new Gpt2OnnxException($"MatMulNBits '{node.Name}': its K, N, bits and block_size do not match " +
                                            $"its weight's shape [{string.Join(", ", weight.Dims)}]: export the " +
                                            "model again");
            return (Attribute(node, "K"), Attribute(node, "N"), initializers[node.Input[2]].DataType);
        }
        if (weight.Dims.Count != 2) return null;
        bool transB = node.OpType != "MatMul" && Attribute(node, "transB") == 1;
        return transB ? (weight.Dims[1], weight.Dims[0], weight.DataType)
            : (weight.Dims[0], weight.Dims[1], weight.DataType);
    }

    /// <summary>
    /// Whether a MatMulNBits' packed weight is (N, K's blocks, a block's bytes): the widths its inputs and outputs are
    /// allocated with are then backed by the weight's own bytes, not only by attributes.
    /// </summary>
    private static bool MatchesItsWeight(NodeProto node, TensorProto weight)
    {
        long k = Attribute(node, "K"), n = Attribute(node, "N"), bits = Attribute(node, "bits", 4),
             block = Attribute(node, "block_size");
        return k > 0 && n > 0 && bits is > 0 and <= 8 && block > 0 && weight.Dims.Count == 3 && weight.Dims[0] == n
               && weight.Dims[1] == (k + block - 1) / block && weight.Dims[2] == block * bits / 8;
    }

    private static long Attribute(NodeProto node, string name, long absent = 0) =>
        node.Attribute.FirstOrDefault(a => a.Name == name)?.I ?? absent;

    private static ValueInfoProto Value(string name, int type, long[] shape)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = type, Shape = new TensorShapeProto() };
        foreach (long d in shape) tensor.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    /// <summary>A host tensor of the value's type and shape: filled from <paramref name="random"/> in [-1, 1), or
    /// left as allocated (outputs).</summary>
    private OrtValue Tensor(TypeProto.Types.Tensor type, Random? random)
    {
        var elementType = (TensorElementType)type.ElemType;
        var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, elementType,
                                                        type.Shape.Dim.Select(d => d.DimValue).ToArray());
        _values.Add(value);
        if (random == null) return value;
        switch (elementType)
        {
            case TensorElementType.Float:
                foreach (ref float x in value.GetTensorMutableDataAsSpan<float>()) x = Draw(random);
                break;
            case TensorElementType.Float16:
                foreach (ref Float16 x in value.GetTensorMutableDataAsSpan<Float16>()) x = (Float16)Draw(random);
                break;
            case TensorElementType.BFloat16:
                foreach (ref BFloat16 x in value.GetTensorMutableDataAsSpan<BFloat16>()) x = (BFloat16)Draw(random);
                break;
            default:
                throw new Gpt2OnnxException($"a weight product computes in {elementType}: only float, float16 and " +
                                            "bfloat16 products are timed");
        }
        return value;
    }

    private static float Draw(Random random) => (float)(2 * random.NextDouble() - 1);

    public void Dispose()
    {
        _binding.Dispose();
        foreach (var value in _values) value.Dispose();
        _session.Dispose();
        _device.Dispose();
        _runOptions.Dispose();
    }
}
