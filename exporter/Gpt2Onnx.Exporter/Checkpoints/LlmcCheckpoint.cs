using System.Buffers.Binary;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.Onnx;
using Microsoft.Win32.SafeHandles;

namespace Gpt2Onnx.Exporter.Checkpoints;

/// <summary>
/// llm.c's GPT-2 model file (gpt2_124M.bin from its train_gpt2.py, or the model_NNNNNNNN.bin its trainer
/// writes) seen as a GPT-2 checkpoint. The file is 256 little-endian int32 (magic 20240326; version 3 for
/// float32, 5 for bfloat16; max_seq_len, vocab_size, num_layers, num_heads, channels, padded_vocab_size),
/// then the parameters back to back: wte (Vp, C) with its padding rows, wpe (T, C), each per-layer tensor
/// for every layer in turn (ln_1 weight and bias, qkv weight (3C, C) and bias, attention projection (C, C)
/// and bias, ln_2 weight and bias, fc weight (4C, C) and bias, fc projection (C, 4C) and bias), then ln_f.
/// The matrices are nn.Linear's [out, in] and are read transposed into GPT-2's Conv1D; the padding rows of
/// wte are left out; GELU is the tanh approximation. The tokenizer is GPT-2's: copy vocab.json and merges.txt
/// beside the model file.
/// </summary>
public static class LlmcCheckpoint
{
    public const int Magic = 20240326;
    private const int HeaderBytes = 256 * sizeof(int);

    /// <summary>True when the file starts with llm.c's magic number.</summary>
    public static bool IsModelFile(string path)
    {
        if (!File.Exists(path) || new FileInfo(path).Length < HeaderBytes) return false;
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        Span<byte> magic = stackalloc byte[4];
        TensorFileReading.ReadExactly(file, magic, 0, path);
        return BinaryPrimitives.ReadInt32LittleEndian(magic) == Magic;
    }

    public static (Gpt2Config Config, ITensorFile Weights) Open(string path)
    {
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            var header = new byte[HeaderBytes];
            TensorFileReading.ReadExactly(file, header, 0, path);
            int Field(int i) => BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(4 * i));
            int version = Field(1);
            var dtype = version switch
            {
                3 => TensorElementType.Float,
                5 => TensorElementType.BFloat16,
                _ => throw new Gpt2OnnxException($"{path} is llm.c model file version {version}; versions 3 " +
                                                 "(float32) and 5 (bfloat16), which llm.c writes today, are read: " +
                                                 "write it again with llm.c's train_gpt2.py"),
            };
            int maxT = Field(2), vocab = Field(3), layers = Field(4), heads = Field(5), channels = Field(6),
            padded = Field(7);
            if (maxT <= 0 || layers <= 0 || heads <= 0 || channels <= 0 || padded < vocab)
                throw new Gpt2OnnxException($"{path}: the header (max_seq_len {maxT}, vocab_size {vocab}, padded " +
                                            $"{padded}, num_layers {layers}, num_heads {heads}, channels {channels}) " +
                                            "describes no model: the file is damaged");
            if (vocab < 50257)
                throw new Gpt2OnnxException($"{path}: a {vocab}-token vocabulary cannot use GPT-2's tokenizer: only " +
                                            "models with GPT-2's vocabulary can be exported");
            var config = new Gpt2Config
            {
                VocabSize = vocab, NPositions = maxT, NEmbd = channels, NLayer = layers, NHead = heads,
                ActivationFunction = "gelu_new", LayerNormEpsilon = 1e-5, BosTokenId = 50256, EosTokenId = 50256,
            }.Validate(path);
            return (config, new Weights(path, file, config, dtype, padded));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Where each GPT-2 tensor lies in the file, and whether it is stored transposed.</summary>
    private sealed class Weights : ITensorFile
    {
        private readonly SafeFileHandle _file;
        private readonly Dictionary<string, SafeTensorInfo> _tensors = new();
        private readonly HashSet<string> _transposed = new();

        public Weights(string path, SafeFileHandle file, Gpt2Config c, TensorElementType dtype, long paddedVocab)
        {
            Path = path;
            _file = file;
            int size = SafeTensorsFile.ElementSize(dtype);
            long C = c.NEmbd, at = HeaderBytes;
            void Next(string name, long[] shape, long storedElements)
            {
                long elements = shape.Aggregate(1L, (a, b) => a * b);
                _tensors[name] = new SafeTensorInfo(name, dtype, shape, at, at + elements * size);
                at += storedElements * size;
            }
            void PerLayer(string tensor, long[] shape, bool transposed = false)
            {
                for (int i = 0; i < c.NLayer; i++)
                {
                    string name = $"h.{i}.{tensor}";
                    Next(name, transposed ? [shape[1], shape[0]] : shape, shape.Aggregate(1L, (a, b) => a * b));
                    if (transposed) _transposed.Add(name);
                }
            }
            // the padding rows follow the vocabulary's and are skipped
            Next("wte.weight", [c.VocabSize, C], paddedVocab * C);
            Next("wpe.weight", [c.NPositions, C], c.NPositions * C);
            PerLayer("ln_1.weight", [C]);
            PerLayer("ln_1.bias", [C]);
            PerLayer("attn.c_attn.weight", [3 * C, C], transposed: true);
            PerLayer("attn.c_attn.bias", [3 * C]);
            PerLayer("attn.c_proj.weight", [C, C], transposed: true);
            PerLayer("attn.c_proj.bias", [C]);
            PerLayer("ln_2.weight", [C]);
            PerLayer("ln_2.bias", [C]);
            PerLayer("mlp.c_fc.weight", [c.InnerSize, C], transposed: true);
            PerLayer("mlp.c_fc.bias", [c.InnerSize]);
            PerLayer("mlp.c_proj.weight", [C, c.InnerSize], transposed: true);
            PerLayer("mlp.c_proj.bias", [C]);
            Next("ln_f.weight", [C], C);
            Next("ln_f.bias", [C], C);
            long length = RandomAccess.GetLength(file);
            if (length != at)
                throw new Gpt2OnnxException($"{path} holds {length} bytes but its header implies {at}: the file is " +
                                            $"{(length < at ? "truncated" : "not a model file of this shape")}; " +
                                            "write it again");
        }

        public string Path { get; }
        public IReadOnlyDictionary<string, SafeTensorInfo> Tensors => _tensors;
        public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();

        public void ReadBytes(SafeTensorInfo tensor, Span<byte> destination)
        {
            if (!_transposed.Contains(tensor.Name))
            {
                TensorFileReading.ReadExactly(_file, destination, tensor.Begin, Path);
                return;
            }
            var stored = new byte[tensor.ByteLength];
            TensorFileReading.ReadExactly(_file, stored, tensor.Begin, Path);
            TensorFileReading.Transpose(stored, destination, tensor.Shape[1], tensor.Shape[0],
                                        SafeTensorsFile.ElementSize(tensor.DType));
        }

        public void Dispose() => _file.Dispose();
    }
}
