using System.Diagnostics;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>
/// The portable graphs against ONNX's own checker (Debian's python3-onnx 1.12, which setup installs):
/// the full check, with strict shape and type inference over every node, as other ONNX tools read them.
/// </summary>
public sealed class OnnxOfficialCheckerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Checker = """
        import sys, onnx
        onnx.checker.check_model(sys.argv[1], full_check=True)
        model = onnx.load(sys.argv[1], load_external_data=False)
        print(model.ir_version, ",".join(f"{o.domain or 'ai.onnx'}:{o.version}" for o in model.opset_import))
        """;

    private static string Check(string modelPath)
    {
        var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true,
                                                               RedirectStandardError = true };
        foreach (var argument in new[] { "-c", Checker, modelPath }) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd(), errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"onnx.checker rejected {modelPath}: {errors}");
        return output.Trim();
    }

    [Theory]
    [InlineData(Precision.Fp32, false)]
    [InlineData(Precision.Fp16, false)]
    [InlineData(Precision.Fp32, true)]
    public void The_portable_graph_passes_the_full_ONNX_check(Precision precision, bool externalData)
    {
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config(), seed: 5);
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output,
                            new ExportOptions { Precision = precision, ExternalData = externalData });
        Assert.Equal($"{OnnxExporter.IrVersion} ai.onnx:{OnnxExporter.Opset}",
                     Check(Path.Combine(output, OnnxExporter.ModelFile)));
    }

    /// <summary>The checker knows no com.microsoft schemas and skips those nodes; every standard node is
    /// checked.</summary>
    [Theory]
    [InlineData(Precision.Int8, null)]
    [InlineData(Precision.Int4, null)]
    [InlineData(Precision.Int4, HeadPrecision.Fp32)]
    public void The_quantized_fused_graphs_pass_the_full_ONNX_check_of_their_standard_operators(Precision precision,
        HeadPrecision? head)
    {
        string checkpoint = TinyCheckpoint.Write(Path.Combine(_dir, "ckpt"), TinyCheckpoint.Config(), seed: 5);
        string output = Path.Combine(_dir, "onnx");
        OnnxExporter.Export(checkpoint, output,
                            new ExportOptions { Variant = GraphVariant.Fused, Precision = precision, Head = head });
        Assert.Equal($"{OnnxExporter.IrVersion} ai.onnx:{OnnxExporter.Opset},com.microsoft:1",
                     Check(Path.Combine(output, OnnxExporter.ModelFile)));
    }
}
