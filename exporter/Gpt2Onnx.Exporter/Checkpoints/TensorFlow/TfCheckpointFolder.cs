using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Exporter.Checkpoints.TensorFlow;

/// <summary>
/// A folder holding a TensorFlow GPT-2 checkpoint as released: OpenAI's (model.ckpt.index + data shards,
/// hparams.json, encoder.json, vocab.bpe) or GPT2_ML's (model.ckpt-N.index + shards, its config as hparams.json
/// or mega.json, vocab.txt). The checkpoint is the one the TensorFlow "checkpoint" file names, or else the
/// folder's only .index file. Which model it is comes from the variables' scope (model/ or newslm/).
/// </summary>
public static class TfCheckpointFolder
{
    public const string StateFile = "checkpoint";
    /// <summary>OpenAI's names for GPT-2's vocab.json and merges.txt (the same contents).</summary>
    public const string OpenAiVocab = "encoder.json", OpenAiMerges = "vocab.bpe";

    /// <summary>True when the folder holds a TensorFlow checkpoint and no Hugging Face config.json.</summary>
    public static bool IsIn(string directory) =>
        !File.Exists(Path.Combine(directory, CheckpointLayout.ConfigFile))
        && (File.Exists(Path.Combine(directory, StateFile)) || Directory.EnumerateFiles(directory, "*.index").Any());

    public static (Gpt2Config Config, TfMappedWeights Weights) Open(string directory)
    {
        var bundle = TensorBundle.Open(IndexPath(directory));
        try
        {
            bool Has(string scope) => bundle.Tensors.Keys.Any(n => n.StartsWith(scope, StringComparison.Ordinal));
            bool gpt2Ml = Has(TfTensorMap.Gpt2MlScope);
            if (!gpt2Ml && !Has(TfTensorMap.OpenAiScope))
            {
                string some = string.Join(", ", bundle.Tensors.Keys.Take(3));
                throw new Gpt2OnnxException($"{bundle.Path} has no variables under model/ (OpenAI's GPT-2) or " +
                                            $"newslm/ (GPT2_ML), only {some}: it is not a GPT-2 checkpoint this " +
                                            "tool reads");
            }
            var config = TfHparams.Read(directory, gpt2Ml);
            var sources = gpt2Ml ? TfTensorMap.Gpt2Ml(config.NLayer) : TfTensorMap.OpenAi(config.NLayer);
            string scope = gpt2Ml ? TfTensorMap.Gpt2MlScope : TfTensorMap.OpenAiScope;
            return (config, new TfMappedWeights(bundle, sources, scope));
        }
        catch
        {
            bundle.Dispose();
            throw;
        }
    }

    /// <summary>The index of the checkpoint the "checkpoint" file names, or the folder's one .index file.</summary>
    public static string IndexPath(string directory)
    {
        string state = Path.Combine(directory, StateFile);
        if (File.Exists(state) && LatestPrefix(state) is { } prefix)
        {
            string named = Path.Combine(directory, Path.GetFileName(prefix) + ".index");
            if (!File.Exists(named))
                throw new Gpt2OnnxException($"{state} names the checkpoint {prefix}, but {named} is missing: copy it " +
                                            "beside the checkpoint file");
            return named;
        }
        var indexes = Directory.EnumerateFiles(directory, "*.index").Order(StringComparer.Ordinal).ToList();
        if (indexes.Count != 1)
            throw new Gpt2OnnxException($"{directory} holds {indexes.Count} TensorFlow checkpoint indexes and no " +
                                        "'checkpoint' file naming one: keep one checkpoint in the folder");
        return indexes[0];
    }

    /// <summary>model_checkpoint_path from TensorFlow's text-format "checkpoint" file.</summary>
    private static string? LatestPrefix(string path)
    {
        if (new FileInfo(path).Length > 1 << 20) return null;
        foreach (var line in File.ReadLines(path))
        {
            var text = line.Trim();
            if (!text.StartsWith("model_checkpoint_path:", StringComparison.Ordinal)) continue;
            var value = text["model_checkpoint_path:".Length..].Trim();
            return value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
        }
        return null;
    }

    /// <summary>OpenAI's tokenizer (encoder.json + vocab.bpe) when the folder has it and no vocab.json.</summary>
    public static BpeTokenizer? OpenAiTokenizer(string directory)
    {
        string vocab = Path.Combine(directory, OpenAiVocab), merges = Path.Combine(directory, OpenAiMerges);
        if (!File.Exists(vocab) || !File.Exists(merges) || File.Exists(Path.Combine(directory, "vocab.json")))
            return null;
        return BpeTokenizer.Create(TokenizerFiles.ReadVocabJson(vocab), TokenizerFiles.ReadMerges(merges),
                                   null, null, vocab, merges);
    }
}
