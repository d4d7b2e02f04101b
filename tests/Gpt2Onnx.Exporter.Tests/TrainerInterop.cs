using System.Text.Json;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Graphs;

namespace Gpt2Onnx.Exporter.Tests;

/// <summary>Checks an export of another trainer's checkpoint against what PyTorch computed for it
/// (TorchFixtures/NAME/expected_logits.json).</summary>
internal static class TrainerInterop
{
    public static void AssertExportMatchesPyTorch(string checkpointFolder, string onnx, string fixture,
                                                  GraphVariant variant)
    {
        using var expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory,
            "TorchFixtures", fixture, "expected_logits.json")));
        int[] Ints(string key) => expected.RootElement.GetProperty(key).EnumerateArray().Select(t => t.GetInt32())
            .ToArray();
        int[] tokens = Ints("tokens"), argmax = Ints("argmax"), ids = Ints("ids");
        float[][] logits = expected.RootElement.GetProperty("logits").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();

        OnnxExporter.Export(checkpointFolder, onnx, new ExportOptions { Variant = variant });
        using var checkpoint = Gpt2Checkpoint.Open(checkpointFolder);
        using var runner = new ExportedGraphRunner(onnx, checkpoint.Config);
        var rows = variant == GraphVariant.Portable
            ? runner.RunPortable(tokens[..5], tokens[5..]) : runner.RunFused(16, tokens[..5], tokens[5..]);
        Assert.Equal(tokens.Length, rows.Count);
        for (int s = 0; s < tokens.Length; s++)
        {
            Assert.Equal(argmax[s], Array.IndexOf(rows[s], rows[s].Max()));
            for (int i = 0; i < ids.Length; i++)
                Assert.True(Math.Abs(rows[s][ids[i]] - logits[s][i]) <= 1e-4f * (1 + Math.Abs(logits[s][i])),
                    $"position {s}, id {ids[i]}: {rows[s][ids[i]]}, PyTorch {logits[s][i]}");
        }
    }
}
