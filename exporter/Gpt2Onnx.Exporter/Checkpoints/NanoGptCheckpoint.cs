using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// nanoGPT's training checkpoint (out/ckpt.pt, as its train.py saves it) seen as a GPT-2 checkpoint: the
/// state dict under "model", the shape under "model_args" (n_layer, n_head, n_embd, block_size, bias,
/// vocab_size, dropout). nanoGPT is GPT-2 with nn.Linear layers, so its four matrices per block are stored
/// [out, in] and are read transposed into GPT-2's Conv1D [in, out]; its GELU is the exact one; a model
/// trained with bias=False gets zero biases, which compute the same; torch.compile's "_orig_mod." prefix is
/// dropped. The tokenizer is GPT-2's BPE (tiktoken's "gpt2"): copy vocab.json and merges.txt beside ckpt.pt.
/// </summary>
public static class NanoGptCheckpoint
{
    public const string FileName = "ckpt.pt";
    private const string CompiledPrefix = "_orig_mod.";
    private static readonly string[] LinearWeights =
        ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight"];

    public static (Gpt2Config Config, ITensorFile Weights) Open(string path)
    {
        PickleDict? modelArgs = null;
        var file = TorchCheckpointFile.Open(path, saved =>
        {
            if (saved is not PickleDict checkpoint || checkpoint["model"] is not PickleDict model
                || checkpoint["model_args"] is not PickleDict args)
                throw new Gpt2OnnxException($"{path} is not a nanoGPT checkpoint: it lacks the \"model\" and " +
                                            "\"model_args\" dicts that nanoGPT's train.py saves");
            modelArgs = args;
            return model;
        });
        try
        {
            var config = Config(path, modelArgs!);
            return (config, new Weights(file, config, Bias(path, modelArgs!)));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static Gpt2Config Config(string path, PickleDict args)
    {
        int Int(string key) => args[key] is long value && value is > 0 and <= int.MaxValue ? (int)value
            : throw new Gpt2OnnxException($"{path}: model_args' {key} is {PickleReader.Describe(args[key])}, not a " +
                                          "positive integer: the checkpoint is damaged");
        int vocab = Int("vocab_size");
        // The runtime reads GPT-2's tokenizer; a smaller vocabulary (a character-level model) has no tokenizer it could
        // use.
        if (vocab < 50257)
            throw new Gpt2OnnxException($"{path}: a {vocab}-token vocabulary (a character-level model?) cannot use " +
                                        "GPT-2's tokenizer: only models with GPT-2's vocabulary (50257, or nanoGPT's " +
                                        "padded 50304) can be exported");
        double dropout = args["dropout"] switch { double d => d, long l => l, null => 0,
                                                  var other => throw new Gpt2OnnxException($"{path}: model_args' " +
            $"dropout is {PickleReader.Describe(other)}, not a number") };
        return new Gpt2Config
        {
            VocabSize = vocab, NPositions = Int("block_size"), NEmbd = Int("n_embd"), NLayer = Int("n_layer"),
            NHead = Int("n_head"),
            ActivationFunction = "gelu", LayerNormEpsilon = 1e-5, BosTokenId = 50256, EosTokenId = 50256,
            EmbdPdrop = dropout, AttnPdrop = dropout, ResidPdrop = dropout,
        }.Validate(path);
    }

    private static bool Bias(string path, PickleDict args) => args["bias"] switch
    {
        bool b => b,
        null => true, // nanoGPT's default
        var other => throw new Gpt2OnnxException($"{path}: model_args' bias is {PickleReader.Describe(other)}, not " +
                                                 "true or false"),
    };

    /// <summary>The state dict under GPT-2's names and layout: Linear weights transposed, zero biases where
    /// bias=False.</summary>
    private sealed class Weights : ITensorFile
    {
        private readonly TorchCheckpointFile _file;
        private readonly Dictionary<string, SafeTensorInfo> _stored = new();   // GPT-2 name → the tensor in the file
        private readonly HashSet<string> _transposed = new();
        private readonly Dictionary<string, SafeTensorInfo> _tensors = new();

        public Weights(TorchCheckpointFile file, Gpt2Config config, bool bias)
        {
            _file = file;
            SafeTensorInfo? wte = null, lmHead = null;
            foreach (var (stored, info) in file.Tensors)
            {
                string name = stored.StartsWith(CompiledPrefix, StringComparison.Ordinal)
                    ? stored[CompiledPrefix.Length..] : stored;
                if (name == "lm_head.weight") { lmHead = info; continue; }
                if (name == "transformer.wte.weight") wte = info;
                if (LinearWeights.Any(w => name.EndsWith("." + w, StringComparison.Ordinal)) && info.Shape.Length == 2)
                {
                    _transposed.Add(name);
                    _tensors[name] = info with { Name = name, Shape = [info.Shape[1], info.Shape[0]] };
                }
                else
                {
                    _tensors[name] = info with { Name = name };
                }
                _stored[name] = info;
            }
            // nanoGPT ties the head to wte, so it is wte's storage again; Gpt2Checkpoint compares an untied one.
            if (lmHead != null && !(wte != null && file.SameView(lmHead, wte)))
            {
                _tensors["lm_head.weight"] = lmHead;
                _stored["lm_head.weight"] = lmHead;
            }
            if (!bias)
                foreach (var (name, shape) in CheckpointLayout.ExpectedTensors(config)
                             .Where(e => e.Name.EndsWith(".bias", StringComparison.Ordinal)))
                    _tensors.TryAdd("transformer." + name,
                                    new SafeTensorInfo("transformer." + name, TensorElementType.Float, shape, 0,
                                                       shape[0] * sizeof(float)));
        }

        public string Path => _file.Path;
        public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;
        public IReadOnlyDictionary<string, string> Metadata => _file.Metadata;

        public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
        {
            if (!_stored.TryGetValue(tensor.Name, out var stored))
            {
                destination.Clear(); // a bias nanoGPT trained without
                return;
            }
            if (!_transposed.Contains(tensor.Name))
            {
                _file.ReadBytes(stored, destination);
                return;
            }
            var source = new byte[stored.ByteLength];
            _file.ReadBytes(stored, source);
            TensorFileReading.Transpose(source, destination, stored.Shape[0], stored.Shape[1],
                                        SafeTensorsFile.ElementSize(stored.DType));
        }

        public void Dispose() => _file.Dispose();
    }
}
