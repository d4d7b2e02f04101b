using System.Diagnostics;
using Google.Protobuf;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Runtime.Native;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// A model's weight products and nothing else: every MatMul, Gemm, FusedMatMul and MatMulNBits that multiplies
/// by a weight, each fed from a graph input of its own width, with the model's own weights and attributes, in a
/// session of its own. A decode step runs these same kernels on the same bytes, and more besides (attention,
/// norms, the runtime's own work), so the time of one run of this graph is a floor that ONNX Runtime's kernels
/// put under the step: no change to the rest of the graph or to the runtime can take a step below it.
/// </summary>
public sealed unsafe class WeightProducts : IDisposable
{
    private static readonly HashSet<string> ProductOps = ["MatMul", "Gemm", "FusedMatMul", "MatMulNBits"];
    private readonly RunOptions _runOptions;
    private readonly List<NativeTensor> _tensors = [];
    private readonly ExecutionDevice _device;
    private readonly InferenceSession? _session;
    private readonly OrtIoBinding? _binding;

    /// <summary>How many products the graph holds.</summary>
    public int Count { get; }

    /// <summary>The weight products of <paramref name="modelPath"/> for <paramref name="batch"/> rows at once.
    /// Inputs and outputs live where the model's cache would (device memory on CUDA), bound once.</summary>
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
        _runOptions = new RunOptions();
        try
        {
            _session = new InferenceSession(products.ToByteArray(), options);
            _device.Attach(_session);
            _binding = _session.CreateIoBinding();
            var random = new Random(11);
            foreach (var input in products.Graph.Input)
                _binding.BindInput(new Utf8Name(input.Name), Tensor(input.Type.TensorType, random));
            foreach (var output in products.Graph.Output)
                _binding.BindOutput(new Utf8Name(output.Name), Tensor(output.Type.TensorType, null));
        }
        catch (OnnxRuntimeException e)
        {
            Dispose();
            throw new Gpt2OnnxException($"{modelPath}'s weight products could not be loaded: " +
                                        ModelSession.OneLine(e.Message), e);
        }
        catch
        {
            Dispose();
            throw;
        }
        // The model read whole, weights included, and the bytes handed to ONNX Runtime are garbage now: give the
        // memory back before the decode steps are timed beside these products.
        GC.Collect();
        NativeHeap.Trim();
    }

    /// <summary>The median time of <paramref name="runs"/> runs, after <paramref name="warmup"/> untimed.</summary>
    public double MedianRunMs(int runs = 200, int warmup = 20)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var times = new double[runs];
        try
        {
            for (int i = 0; i < warmup; i++) _session!.RunWithBinding(_runOptions, _binding!);
            for (int i = 0; i < runs; i++)
            {
                long start = Stopwatch.GetTimestamp();
                _session!.RunWithBinding(_runOptions, _binding!);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new Gpt2OnnxException("ONNX Runtime could not run the weight products: " +
                                        ModelSession.OneLine(e.Message), e);
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
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var tensor in model.Graph.Initializer) initializers[tensor.Name] = tensor; // given twice: the last
        var taken = new HashSet<string>(model.Graph.Node.SelectMany(n => n.Input.Concat(n.Output))
                                            .Concat(initializers.Keys), StringComparer.Ordinal);
        var graph = new GraphProto { Name = "weight products" };
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in model.Graph.Node)
        {
            if (Product(node, initializers) is not { } product) continue;
            var (width, outputs, type) = product;
            var copy = node.Clone();
            bool transA = Attribute(node, "transA") == 1;
            copy.Input[0] = Unused(taken, $"activation {graph.Node.Count}");
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

    /// <summary><paramref name="stem"/>, or it with a number after it, that no value of the model is called.</summary>
    private static string Unused(HashSet<string> taken, string stem)
    {
        string name = stem;
        for (int i = 2; !taken.Add(name); i++) name = $"{stem} ({i})";
        return name;
    }

    /// <summary>
    /// The activation's width, the output's width and the element type of a product with a weight; null for any
    /// other node, one that reads an activation anywhere but its first input, or one whose weight is empty.
    /// </summary>
    private static (long Width, long Outputs, int Type)? Product(NodeProto node,
                                                                 Dictionary<string, TensorProto> initializers)
    {
        if (!ProductOps.Contains(node.OpType) || node.Input.Count < 2 || node.Output.Count != 1) return null;
        if (node.Input[1] == "" || node.Input.Skip(1).Any(name => name != "" && !initializers.ContainsKey(name)))
            return null;
        var weight = initializers[node.Input[1]];
        if (weight.Dims.Any(d => d <= 0)) return null;
        (long Width, long Outputs, int Type) product;
        if (node.OpType == "MatMulNBits")
        {
            if (node.Input.Count < 3 || node.Input[2] == "") return null;
            if (!MatchesItsWeight(node, weight))
                throw new Gpt2OnnxException($"MatMulNBits '{node.Name}': its K, N, bits and block_size do not match " +
                                            $"its weight's shape [{string.Join(", ", weight.Dims)}]: export the " +
                                            "model again");
            product = (Attribute(node, "K"), Attribute(node, "N"), initializers[node.Input[2]].DataType);
        }
        else
        {
            if (weight.Dims.Count != 2) return null;
            bool transB = node.OpType != "MatMul" && Attribute(node, "transB") == 1;
            product = transB ? (weight.Dims[1], weight.Dims[0], weight.DataType)
                : (weight.Dims[0], weight.Dims[1], weight.DataType);
        }
        return (TensorElementType)product.Type is TensorElementType.Float or TensorElementType.Float16
                   or TensorElementType.BFloat16 ? product
            : throw new Gpt2OnnxException($"{node.OpType} '{node.Name}' computes in " +
                                          $"{(TensorElementType)product.Type}: only float, float16 and bfloat16 " +
                                          "products are timed");
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

    /// <summary>
    /// A tensor of the value's type and shape where the device keeps its cache: an input holds values drawn from
    /// <paramref name="random"/> in [-1, 1), an output zeros.
    /// </summary>
    private NativeTensor Tensor(TypeProto.Types.Tensor type, Random? random)
    {
        var elementType = (TensorElementType)type.ElemType;
        long[] shape = type.Shape.Dim.Select(d => d.DimValue).ToArray();
        long bytes = shape.Aggregate(1L, (a, d) => checked(a * d)) * elementType.SizeOf();
        var tensor = NativeTensor.ForCache(_device, elementType, shape, bytes);
        _tensors.Add(tensor);
        if (random == null) return tensor;
        if (tensor.OnHost)
        {
            Fill(tensor, random);
            return tensor;
        }
        using var drawn = NativeTensor.OnHostMemory(elementType, shape, bytes);
        Fill(drawn, random);
        DeviceCopy.Copy(drawn.Data, drawn.Memory, tensor.Data, tensor.Memory, bytes);
        return tensor;
    }

    /// <summary>Values drawn in [-1, 1) into a host tensor of float, float16 or bfloat16.</summary>
    private static void Fill(NativeTensor tensor, Random random)
    {
        switch (tensor.ElementType)
        {
            case TensorElementType.Float:
                foreach (ref float x in tensor.Span<float>()) x = Draw(random);
                break;
            case TensorElementType.Float16:
                foreach (ref Half x in tensor.Span<Half>()) x = (Half)Draw(random);
                break;
            default: // bfloat16: a float's upper half
                foreach (ref ushort x in tensor.Span<ushort>())
                    x = (ushort)(BitConverter.SingleToUInt32Bits(Draw(random)) >> 16);
                break;
        }
    }

    private static float Draw(Random random) => (float)(2 * random.NextDouble() - 1);

    public void Dispose()
    {
        _binding?.Dispose();
        foreach (var tensor in _tensors) tensor.Dispose();
        _session?.Dispose();
        _device.Dispose();
        _runOptions.Dispose();
    }
}
