using System.Runtime.InteropServices;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.TestSupport;

/// <summary>Writes small random GPT-2 checkpoints in Hugging Face's layout for tests.</summary>
public static class TinyCheckpoint
{
    public static Gpt2Config Config(int vocab = 96, int positions = 32, int embd = 32, int layers = 2, int heads = 4,
                                    string activation = "gelu_new") => new Gpt2Config
    {
        VocabSize = vocab, NPositions = positions, NEmbd = embd, NLayer = layers, NHead = heads,
        ActivationFunction = activation, BosTokenId = vocab - 1, EosTokenId = vocab - 1,
    }.Validate("test config");

    /// <summary>
    /// Random weights with every part exercised: non-zero biases, LayerNorm gains around 1, weights large
    /// enough (std 0.3) that the output depends on all of them. <paramref name="prefix"/> is prepended to
    /// every name (for example "transformer.") and <paramref name="dtype"/> picks the stored type.
    /// </summary>
    public static string Write(string directory, Gpt2Config config, int seed = 0, string prefix = "",
                               TensorElementType dtype = TensorElementType.Float)
    {
        Directory.CreateDirectory(directory);
        config.Save(Path.Combine(directory, CheckpointLayout.ConfigFile));
        var random = new Random(seed);
        double Normal() =>
            Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var entries = new List<SafeTensorsFile.Entry>();
        foreach (var (name, shape) in CheckpointLayout.ExpectedTensors(config))
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            bool gain = name.Contains("ln_") && name.EndsWith(".weight");
            var values = new float[n];
            for (int i = 0; i < n; i++) values[i] = (float)(gain ? 1 + 0.2 * Normal() : 0.3 * Normal());
            entries.Add(new SafeTensorsFile.Entry(prefix + name, dtype, shape, Encode(values, dtype)));
        }
        SafeTensorsFile.Write(Path.Combine(directory, CheckpointLayout.ModelFile), entries);
        return directory;
    }

    private static byte[] Encode(float[] values, TensorElementType dtype) => dtype switch
    {
        TensorElementType.Float => MemoryMarshal.AsBytes(values.AsSpan()).ToArray(),
        TensorElementType.Float16 => MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray(),
        TensorElementType.BFloat16 => MemoryMarshal.AsBytes(
            values.Select(v => (ushort)(BitConverter.SingleToInt32Bits(v) >> 16)).ToArray().AsSpan()).ToArray(),
        _ => throw new ArgumentException($"no test encoding for {dtype}"),
    };
}

/// <summary>A tiny checkpoint exported to ONNX, with a byte-level tokenizer whose ids fit its vocabulary.</summary>
public static class TinyModel
{
    /// <summary>
    /// Writes a random checkpoint with a trained 300-token BPE vocabulary into <paramref name="directory"/>/ckpt
    /// and exports it (portable, or fused with the given precision) into <paramref name="directory"/>/onnx-*.
    /// <paramref name="vocab"/> (0: the tokenizer's 300), <paramref name="embd"/> and <paramref name="layers"/> set
    /// the model's size.
    /// </summary>
    public static (string Checkpoint, string Portable, string Fused) Export(
        string directory, int seed = 21, int positions = 64,
        Gpt2Onnx.Exporter.Graphs.Precision fusedPrecision = Gpt2Onnx.Exporter.Graphs.Precision.Fp32,
        int vocab = 0, int embd = 32, int layers = 2)
    {
        var tokenizer = Gpt2Onnx.Trainer.Tokenizers.BpeTrainer.Train(
            ["the quick brown fox jumps over the lazy dog", "床前明月光，疑是地上霜。", "hello world, hello model"],
            vocabSize: 300);
        var config = TinyCheckpoint.Config(vocab: vocab > 0 ? vocab : tokenizer.VocabSize, positions: positions,
                                           embd: embd, layers: layers) with { BosTokenId = tokenizer.EndOfTextId,
                                                                              EosTokenId = tokenizer.EndOfTextId };
        string checkpoint = TinyCheckpoint.Write(Path.Combine(directory, "ckpt"), config, seed);
        tokenizer.Save(checkpoint);
        string portable = Path.Combine(directory, "onnx-portable"), fused = Path.Combine(directory, "onnx-fused");
        Gpt2Onnx.Exporter.OnnxExporter.Export(checkpoint, portable, new Gpt2Onnx.Exporter.Graphs.ExportOptions());
        Gpt2Onnx.Exporter.OnnxExporter.Export(checkpoint, fused, new Gpt2Onnx.Exporter.Graphs.ExportOptions
        {
            Variant = Gpt2Onnx.Exporter.Graphs.GraphVariant.Fused, Precision = fusedPrecision,
        });
        return (checkpoint, portable, fused);
    }
}
