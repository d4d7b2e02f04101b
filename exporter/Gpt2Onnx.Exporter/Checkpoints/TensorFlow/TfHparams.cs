using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// A TensorFlow GPT-2's hyperparameters as a <see cref="Gpt2Config"/>. OpenAI's hparams.json has n_vocab, n_ctx,
/// n_embd, n_head and n_layer (norms' epsilon 1e-5, tanh GELU, end-of-text the last id). GPT2_ML's config
/// (its configs/mega.json, kept as hparams.json or under that name) has Grover's BERT-style keys: vocab_size,
/// hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, max_position_embeddings and
/// initializer_range (epsilon 1e-5, exact GELU, and [SEP] and [CLS] from vocab.txt when it is there).
/// </summary>
public static class TfHparams
{
    public static readonly string[] FileNames = ["hparams.json", "mega.json"];

    public static Gpt2Config Read(string directory, bool gpt2Ml)
    {
        string? path = FileNames.Select(n => System.IO.Path.Combine(directory, n)).FirstOrDefault(File.Exists);
        if (path == null)
            throw new Gpt2OnnxException($"{directory} holds a TensorFlow checkpoint but no hparams.json: copy the " +
                                        "one released with the model (GPT2_ML's configs/mega.json) beside it");
        var root = Parse(path);
        int Int(string key)
        {
            var node = root[key]
                       ?? throw new Gpt2OnnxException($"{path} lacks '{key}': is it the model's hparams.json?");
            try
            {
                return node.GetValue<int>();
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                throw new Gpt2OnnxException($"{path}: '{key}' must be a whole number, not " +
                                            JsonText.Excerpt(node.ToJsonString()));
            }
        }
        return (gpt2Ml ? Gpt2Ml(directory, Int, root) : OpenAi(Int)).Validate(path);
    }

    private static Gpt2Config OpenAi(Func<string, int> field)
    {
        int vocab = field("n_vocab");
        return new Gpt2Config
        {
            VocabSize = vocab, NPositions = field("n_ctx"), NEmbd = field("n_embd"), NHead = field("n_head"),
            NLayer = field("n_layer"), ActivationFunction = "gelu_new", BosTokenId = vocab - 1, EosTokenId = vocab - 1,
        };
    }

    private static Gpt2Config Gpt2Ml(string directory, Func<string, int> field, JsonObject root)
    {
        int vocab = field("vocab_size");
        int eos = SpecialId(directory, "[SEP]") ?? vocab - 1;
        return new Gpt2Config
        {
            VocabSize = vocab, NPositions = field("max_position_embeddings"), NEmbd = field("hidden_size"),
            NHead = field("num_attention_heads"), NLayer = field("num_hidden_layers"),
            NInner = field("intermediate_size"), ActivationFunction = "gelu", Block = Gpt2Config.Gpt2MlBlock,
            BosTokenId = SpecialId(directory, "[CLS]") ?? eos, EosTokenId = eos,
            InitializerRange = Number(root, "initializer_range") ?? 0.02,
        };
    }

    private static double? Number(JsonObject root, string key) =>
        root[key] is { } node && node.GetValueKind() == JsonValueKind.Number ? node.GetValue<double>() : null;

    /// <summary>The line number (id) of <paramref name="token"/> in the folder's vocab.txt, if both exist.</summary>
    private static int? SpecialId(string directory, string token)
    {
        string path = System.IO.Path.Combine(directory, "vocab.txt");
        if (!File.Exists(path)) return null;
        int id = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (line.TrimEnd('\r') == token) return id;
            id++;
        }
        return null;
    }

    private static JsonObject Parse(string path)
    {
        var bytes = BoundedFile.ReadAllBytes(path, 1 << 20)
                    ?? throw new Gpt2OnnxException($"{path} is over 1 MB, far more than hyperparameters: is it the " +
                                                   "right file?");
        try
        {
            return JsonText.Parse(bytes) as JsonObject
                   ?? throw new Gpt2OnnxException($"{path}: expected a JSON object of hyperparameters");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): fix the file");
        }
    }
}
