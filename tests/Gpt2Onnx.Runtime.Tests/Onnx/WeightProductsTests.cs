using Google.Protobuf;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Exporter;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.TestSupport;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Tests.Onnx;

/// <summary>
/// A model's weight products alone (what <c>gpt2-run bench --products</c> times): every product with a weight,
/// fed from an input, computing what the same node computes in the model, and nothing else.
/// </summary>
public sealed class WeightProductsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] ProductOps = ["MatMul", "Gemm", "FusedMatMul", "MatMulNBits"];

    private string Export(ExportOptions options)
    {
        string checkpoint = Path.Combine(_dir, "ckpt");
        if (!Directory.Exists(checkpoint)) TinyCheckpoint.Write(checkpoint, TinyCheckpoint.Config(embd: 64), seed: 5);
        string onnx = Path.Combine(_dir, $"onnx-{options.Variant}-{options.Precision}-{options.ExternalData}");
        OnnxExporter.Export(checkpoint, onnx, options);
        return Path.Combine(onnx, OnnxExporter.ModelFile);
    }

    private static ModelProto Read(string path) => ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));

    [Theory]
    [InlineData(GraphVariant.Portable, Precision.Fp32, 2 * 4 + 1)] // 4 projections a layer, the head
    [InlineData(GraphVariant.Fused, Precision.Fp32, 2 * 4 + 1)]
    [InlineData(GraphVariant.Fused, Precision.Int4, 2 * 4 + 2)]    // the head's int8 rows and int4 rows
    public void Every_product_with_a_weight_is_kept_fed_from_an_input_and_nothing_else(
        GraphVariant variant, Precision precision, int expected)
    {
        var model = Read(Export(new ExportOptions { Variant = variant, Precision = precision }));
        var products = WeightProducts.ProductsOnly(model, batch: 3);
        var graph = products.Graph;
        Assert.Equal(expected, graph.Node.Count);
        Assert.All(graph.Node, n => Assert.Contains(n.OpType, ProductOps));
        // The model's own nodes, in its order, with their weights and attributes.
        var originals = model.Graph.Node.Where(n => graph.Node.Any(p => p.Output[0] == n.Output[0])).ToList();
        Assert.Equal(originals.Select(n => (n.OpType, n.Name, n.Domain, string.Join(",", n.Input.Skip(1)))),
                     graph.Node.Select(n => (n.OpType, n.Name, n.Domain, string.Join(",", n.Input.Skip(1)))));
        Assert.Equal(originals.Select(n => n.Attribute), graph.Node.Select(n => n.Attribute));
        // One input per product, (batch, width), and only the initializers the products read.
        Assert.Equal(graph.Node.Select(n => n.Input[0]), graph.Input.Select(i => i.Name));
        Assert.All(graph.Input, i => Assert.Equal(3, i.Type.TensorType.Shape.Dim[0].DimValue));
        Assert.Equal(graph.Node.SelectMany(n => n.Input.Skip(1)).Where(n => n != "").Distinct().Order(),
                     graph.Initializer.Select(t => t.Name).Order());
        Assert.Equal(graph.Node.Select(n => n.Output[0]), graph.Output.Select(o => o.Name));
    }

    [Theory]
    [InlineData(GraphVariant.Portable)]
    [InlineData(GraphVariant.Fused)]
    public void A_float_product_computes_its_input_times_the_models_weight_plus_its_bias(GraphVariant variant)
    {
        var model = Read(Export(new ExportOptions { Variant = variant }));
        Assert.Equal(2 * 4 + 1, ComputeLikeTheModel(model));
    }

    /// <summary>
    /// A model in miniature that an exporter of ours never writes: a Gemm reading its input and weight transposed,
    /// a weight named like the products' own inputs, an empty weight and a missing one (neither is a product).
    /// </summary>
    [Fact]
    public void Transposed_inputs_taken_names_and_empty_weights_are_handled()
    {
        var random = new Random(8);
        TensorProto Weight(string name, params long[] dims) => new()
        {
            Name = name, DataType = 1, Dims = { dims },
            RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(
                Enumerable.Range(0, (int)dims.Aggregate(1L, (a, d) => a * d)).Select(_ => random.NextSingle() - 0.5f)
                    .ToArray().AsSpan())),
        };
        static AttributeProto Int(string name, long value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };
        var graph = new GraphProto
        {
            Name = "odd",
            Node =
            {
                new NodeProto { OpType = "Gemm", Name = "both transposed", Input = { "x", "activation 0" },
                                Output = { "y" }, Attribute = { Int("transA", 1), Int("transB", 1) } },
                new NodeProto { OpType = "MatMul", Name = "plain", Input = { "y", "w" }, Output = { "z" } },
                new NodeProto { OpType = "MatMul", Name = "empty", Input = { "z", "nothing" }, Output = { "e" } },
                new NodeProto { OpType = "MatMul", Name = "no weight", Input = { "z", "" }, Output = { "f" } },
            },
            Initializer = { Weight("activation 0", 6, 5), Weight("w", 6, 3), Weight("nothing", 3, 0) },
        };
        var model = new ModelProto
        {
            IrVersion = 8, Graph = graph, OpsetImport = { new OperatorSetIdProto { Version = 17 } },
        };
        Assert.Equal(2, ComputeLikeTheModel(model));
    }

    /// <summary>
    /// Runs <paramref name="model"/>'s products on random inputs and checks each output against a float64 sum
    /// over the model's own weights; returns how many products there were.
    /// </summary>
    private static int ComputeLikeTheModel(ModelProto model)
    {
        var products = WeightProducts.ProductsOnly(model, batch: 2);
        var weights = model.Graph.Initializer.ToDictionary(t => t.Name);
        using var session = new InferenceSession(products.ToByteArray());
        var random = new Random(3);
        var inputs = products.Graph.Input.ToDictionary(i => i.Name, i =>
        {
            var shape = i.Type.TensorType.Shape.Dim.Select(d => d.DimValue).ToArray();
            return (Data: Enumerable.Range(0, (int)(shape[0] * shape[1])).Select(_ => random.NextSingle() - 0.5f)
                        .ToArray(), Shape: shape);
        });
        var values = inputs.Values.Select(i => OrtValue.CreateTensorValueFromMemory(i.Data, i.Shape)).ToList();
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputs.Keys.ToArray(), values, session.OutputNames);
        values.ForEach(v => v.Dispose());
        for (int p = 0; p < products.Graph.Node.Count; p++)
        {
            var node = products.Graph.Node[p];
            bool transA = node.Attribute.Any(a => a.Name == "transA" && a.I == 1);
            bool transB = node.Attribute.Any(a => a.Name == "transB" && a.I == 1);
            var (x, shape) = inputs[node.Input[0]];
            int k = (int)shape[transA ? 0 : 1];
            var w = Floats(weights[node.Input[1]]);
            int n = w.Length / k;
            var bias = node.Input.Count > 2 ? Floats(weights[node.Input[2]]) : new float[n];
            var actual = outputs[p].GetTensorDataAsSpan<float>().ToArray();
            Assert.Equal(2 * n, actual.Length);
            for (int row = 0; row < 2; row++)
                for (int j = 0; j < n; j++)
                {
                    double expected = bias[j];
                    for (int i = 0; i < k; i++)
                        expected += x[transA ? i * 2 + row : row * k + i] * (double)w[transB ? j * k + i : i * n + j];
                    Assert.True(Math.Abs(expected - actual[row * n + j]) < 1e-4,
                                $"{node.Name} [{row}, {j}]: {actual[row * n + j]} against {expected}");
                }
        }
        return products.Graph.Node.Count;
    }

    private static float[] Floats(TensorProto t) =>
        t.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray()
            : t.FloatData.ToArray();

    [Theory]
    [InlineData(Precision.Int4, false, 2 * 4 + 2)]
    [InlineData(Precision.Int4, true, 2 * 4 + 2)] // weights in model.onnx.data, read from the model's folder
    [InlineData(Precision.Fp16, false, 2 * 4 + 1)] // float16 inputs
    public void The_products_of_an_export_run_and_are_timed(Precision precision, bool externalData, int count)
    {
        string path = Export(new ExportOptions
        {
            Variant = GraphVariant.Fused, Precision = precision, ExternalData = externalData,
        });
        using var products = new WeightProducts(path, batch: 2, new SessionSettings { IntraOpThreads = 1 });
        Assert.Equal(count, products.Count);
        Assert.True(products.MedianRunMs(runs: 5, warmup: 1) > 0);
    }

    [Fact]
    public void A_MatMulNBits_whose_widths_its_weight_does_not_hold_is_refused_before_anything_is_allocated()
    {
        var model = Read(Export(new ExportOptions { Variant = GraphVariant.Fused, Precision = Precision.Int4 }));
        var node = model.Graph.Node.First(n => n.OpType == "MatMulNBits");
        node.Attribute.First(a => a.Name == "K").I = 1 << 30; // a 4 GB input per row, were it allocated
        string path = Path.Combine(_dir, "hostile.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        var weight = model.Graph.Initializer.First(t => t.Name == node.Input[1]);
        var e = Assert.Throws<Gpt2Onnx.Core.Gpt2OnnxException>(() =>
            new WeightProducts(path, batch: 1, new SessionSettings()));
        Assert.Equal($"MatMulNBits '{node.Name}': its K, N, bits and block_size do not match its weight's shape " +
                     $"[{string.Join(", ", weight.Dims)}]: export the model again", e.Message);
    }

    [Fact]
    public void A_graph_without_a_weight_product_is_refused_with_one_line()
    {
        string path = Path.Combine(_dir, "identity.onnx");
        var graph = new GraphProto { Name = "identity", Node = { new NodeProto { OpType = "Identity", Input = { "x" },
                                                                                 Output = { "y" } } } };
        File.WriteAllBytes(path, new ModelProto { IrVersion = 8, Graph = graph,
                                                  OpsetImport = { new OperatorSetIdProto { Version = 17 } } }
                                     .ToByteArray());
        var e = Assert.Throws<Gpt2Onnx.Core.Gpt2OnnxException>(() =>
            new WeightProducts(path, batch: 1, new SessionSettings()));
        Assert.Equal($"{path} has no product with a weight (MatMul, Gemm, FusedMatMul, MatMulNBits) to time",
                     e.Message);
    }
}
