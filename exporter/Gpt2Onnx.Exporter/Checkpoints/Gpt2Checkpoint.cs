using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using static Gpt2Onnx.Core.Checkpoints.CheckpointLayout;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// A GPT-2 checkpoint folder in Hugging Face's layout: config.json + model.safetensors (or pytorch_model.bin
/// when there is no safetensors file; either one may be split into shards) + tokenizer and generation
/// config; or, without config.json, nanoGPT's ckpt.pt (<see cref="NanoGptCheckpoint"/>) or an llm.c model file
/// (<see cref="LlmcCheckpoint"/>), or a TensorFlow checkpoint (<see cref="TensorFlow.TfCheckpointFolder"/>).
/// Tensor names are GPT-2's own (wte.weight, h.0.attn.c_attn.weight, ...); the "transformer." prefix
/// of GPT2LMHeadModel files is accepted, as are the causal-mask buffers old files carry and an lm_head.weight
/// equal to wte. Every expected tensor must be there with the shape the config
/// implies, and nothing else: a mismatch is one clear error before anything is built.
/// </summary>
public sealed class Gpt2Checkpoint : IDisposable
{
    private readonly ITensorFile _file;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;

    public string Directory { get; }
    public Gpt2Config Config { get; }
    public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;

    private Gpt2Checkpoint(string directory, Gpt2Config config, ITensorFile file,
                           Dictionary<string, SafeTensorInfo> tensors)
    {
        Directory = directory;
        Config = config;
        _file = file;
        _tensors = tensors;
    }

    public static Gpt2Checkpoint Open(string directory)
    {
        if (!System.IO.Directory.Exists(directory))
            throw new Gpt2OnnxException($"the checkpoint folder {directory} does not exist: pass a folder with " +
                                        "config.json and model.safetensors");
        if (File.Exists(Path.Combine(directory, "model.onnx"))
            && !new[] { ModelFile, TorchModelFile, ModelFile + IndexSuffix,
                        TorchModelFile + IndexSuffix }.Any(f => File.Exists(Path.Combine(directory, f))))
            throw new Gpt2OnnxException($"{directory} is an ONNX export (model.onnx), not a checkpoint: pass the " +
                                        "checkpoint folder it was exported from (config.json and model.safetensors)");
        Gpt2Config config;
        ITensorFile file;
        if (!File.Exists(Path.Combine(directory, ConfigFile))
            && File.Exists(Path.Combine(directory, NanoGptCheckpoint.FileName)))
        {
            (config, file) = NanoGptCheckpoint.Open(Path.Combine(directory, NanoGptCheckpoint.FileName));
        }
        else if (!File.Exists(Path.Combine(directory, ConfigFile)) && LlmcModelFile(directory) is { } llmc)
        {
            (config, file) = LlmcCheckpoint.Open(llmc);
        }
        else if (TensorFlow.TfCheckpointFolder.IsIn(directory))
        {
            (config, file) = TensorFlow.TfCheckpointFolder.Open(directory);
        }
        else
        {
            config = Gpt2Config.Load(Path.Combine(directory, ConfigFile));
            file = OpenWeights(directory);
        }
        try
        {
            return new Gpt2Checkpoint(directory, config, file, Match(config, file));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The one llm.c model file in a folder without config.json, or null when there is none.</summary>
    private static string? LlmcModelFile(string directory)
    {
        var files = System.IO.Directory.EnumerateFiles(directory, "*.bin").Where(LlmcCheckpoint.IsModelFile)
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count > 1)
            throw new Gpt2OnnxException($"{directory} holds {files.Count} llm.c model files " +
                                        $"({string.Join(", ", files.Select(Path.GetFileName).Take(4))}" +
                                        $"{(files.Count > 4 ? ", ..." : "")}): put the one to use in a folder of its " +
                                        "own, with GPT-2's vocab.json and merges.txt");
        return files.FirstOrDefault();
    }

    /// <summary>
    /// The weights, in the order save_pretrained's loader prefers them: model.safetensors, its shard index,
    /// pytorch_model.bin, its shard index. With none of them, the error names model.safetensors.
    /// </summary>
    private static ITensorFile OpenWeights(string directory)
    {
        string Beside(string name) => Path.Combine(directory, name);
        if (File.Exists(Beside(ModelFile))) return SafeTensorsFile.Open(Beside(ModelFile));
        if (File.Exists(Beside(ModelFile + IndexSuffix)))
            return ShardedTensorFile.Open(Beside(ModelFile + IndexSuffix), SafeTensorsFile.Open);
        if (File.Exists(Beside(TorchModelFile))) return TorchCheckpointFile.Open(Beside(TorchModelFile));
        if (File.Exists(Beside(TorchModelFile + IndexSuffix)))
            return ShardedTensorFile.Open(Beside(TorchModelFile + IndexSuffix), TorchCheckpointFile.Open);
        return SafeTensorsFile.Open(Beside(ModelFile));
    }

    private static Dictionary<string, SafeTensorInfo> Match(Gpt2Config config, ITensorFile file)
    {
        var byName = new Dictionary<string, SafeTensorInfo>();
        SafeTensorInfo? lmHead = null;
        var unexpected = new List<string>();
        var expected = ExpectedTensors(config).ToDictionary(e => e.Name, e => e.Shape);
        foreach (var (stored, info) in file.Tensors)
        {
            string name = stored.StartsWith("transformer.", StringComparison.Ordinal)
                ? stored["transformer.".Length..] : stored;
            if (name == "lm_head.weight")
            {
                lmHead = info;
                continue;
            }
            // the causal-mask buffer
            if (name.EndsWith(".attn.bias", StringComparison.Ordinal) && info.Shape.Length == 4) continue;
            if (name.EndsWith(".attn.masked_bias", StringComparison.Ordinal)) continue;
            if (!expected.ContainsKey(name))
            {
                unexpected.Add(stored);
                continue;
            }
            if (!byName.TryAdd(name, info))
                throw new Gpt2OnnxException($"{file.Path}: '{name}' is stored twice (with and without the " +
                                            "'transformer.' prefix): keep one");
        }
        string where = Path.GetDirectoryName(file.Path) ?? ".";
        if (unexpected.Count > 0)
            throw new Gpt2OnnxException($"{file.Path} has tensors a GPT-2 does not ({Summarize(unexpected)}): is " +
                                        $"this a GPT-2 checkpoint, and does {ConfigFile} match it?");
        var missing = expected.Keys.Where(n => !byName.ContainsKey(n)).ToList();
        if (missing.Count > 0)
            throw new Gpt2OnnxException($"{file.Path} lacks tensors that {where}/{ConfigFile} implies " +
                                        $"({Summarize(missing)}): does n_layer match the checkpoint?");
        foreach (var (name, shape) in expected)
        {
            var info = byName[name];
            if (!info.Shape.SequenceEqual(shape))
                throw new Gpt2OnnxException($"{file.Path}: '{name}' has shape [{string.Join(", ", info.Shape)}] but " +
                                            $"{ConfigFile} implies [{string.Join(", ", shape)}]: the config " +
                                            "contradicts the checkpoint");
        }
        if (lmHead != null)
        {
            var wte = byName["wte.weight"];
            // A torch.save file stores a tied head as a second view of wte's storage: nothing to compare then.
            bool sameView = file is TorchCheckpointFile torch && torch.SameView(lmHead, wte);
            if (!sameView && (!lmHead.Shape.SequenceEqual(wte.Shape)
                              || !file.ReadFloat32(lmHead).AsSpan().SequenceEqual(file.ReadFloat32(wte))))
                throw new Gpt2OnnxException($"{file.Path}: lm_head.weight differs from wte.weight; GPT-2 ties them " +
                                            "and this tool supports only tied heads");
        }
        return byName;
    }

    private static string Summarize(List<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");

    public SafeTensorInfo Info(string name) => _tensors[name];

    /// <summary>
    /// One tensor's values as little-endian bytes of <paramref name="type"/> (float or float16), ready for an
    /// ONNX initializer. F16 tensors are taken as they are; wider ones are rounded to nearest, and a value
    /// beyond float16's range is an error rather than an infinity in the graph.
    /// </summary>
    public byte[] ReadBytes(string name, TensorElementType type)
    {
        if (type == TensorElementType.Float) return ReadFloat32Bytes(name);
        if (type != TensorElementType.Float16)
            throw new ArgumentOutOfRangeException(nameof(type), type, "weights are float or float16");
        var info = _tensors[name];
        var values = ReadFloat32(name);
        if (info.DType != TensorElementType.Float16)
        {
            int i = TensorPrimitives.IndexOfMaxMagnitude<float>(values);
            if (i >= 0 && Math.Abs(values[i]) > (float)Half.MaxValue)
                throw new Gpt2OnnxException($"{_file.Path}: '{name}' holds {values[i]} at element {i}, beyond " +
                                            "float16's range (±65504): export this checkpoint with --precision fp32");
        }
        var halves = new Half[values.Length];
        TensorPrimitives.ConvertToHalf(values, halves);
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }

    /// <summary>One tensor's float32 values as little-endian bytes (ready for an ONNX initializer), checked like <see
    /// cref="ReadFloat32"/>.</summary>
    public byte[] ReadFloat32Bytes(string name)
    {
        var info = _tensors[name];
        if (info.DType != TensorElementType.Float)
            return MemoryMarshal.AsBytes(ReadFloat32(name).AsSpan()).ToArray();
        var bytes = new byte[info.ByteLength];
        _file.ReadBytes(info, bytes);
        CheckFinite(name, MemoryMarshal.Cast<byte, float>(bytes));
        return bytes;
    }

    /// <summary>One tensor as float32, checked for NaN and infinity.</summary>
    public float[] ReadFloat32(string name)
    {
        var values = _file.ReadFloat32(_tensors[name]);
        CheckFinite(name, values);
        return values;
    }

    private void CheckFinite(string name, ReadOnlySpan<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new Gpt2OnnxException($"{_file.Path}: '{name}' holds " +
                                            $"{(float.IsNaN(values[i]) ? "NaN" : "an infinity")} at element {i}: the " +
                                            "checkpoint is broken (a diverged training run?)");
    }

    public void Dispose() => _file.Dispose();
}
