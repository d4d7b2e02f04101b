using System.Text.Json;
using System.Text.Json.Serialization;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>meta.json beside train.bin and val.bin: what the shards hold and which tokenizer made them.</summary>
public sealed record ShardMeta
{
    [JsonPropertyName("format")] public string Format { get; init; } = "gpt2onnx-token-shards";
    [JsonPropertyName("version")] public int Version { get; init; } = 1;
    /// <summary>"uint16", or "uint32" when the vocabulary exceeds 65,535 ids.</summary>
    [JsonPropertyName("dtype")] public string DType { get; init; } = "uint16";
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("eos_token_id")] public int EosTokenId { get; init; }
    [JsonPropertyName("train_tokens")] public long TrainTokens { get; init; }
    [JsonPropertyName("val_tokens")] public long ValTokens { get; init; }
    [JsonPropertyName("train_documents")] public int TrainDocuments { get; init; }
    [JsonPropertyName("val_documents")] public int ValDocuments { get; init; }
    /// <summary>
    /// "documents": whole documents held out; "tail": the corpus had too few documents to hold any out, so
    /// validation is the last tokens of the stream (its first document may begin in train.bin).
    /// </summary>
    [JsonPropertyName("val_split")] public string ValSplit { get; init; } = "documents";
    /// <summary>The tokenizer folder, relative to the shard folder (a copy is kept there).</summary>
    [JsonPropertyName("tokenizer")] public string Tokenizer { get; init; } = "tokenizer";
    /// <summary>SHA-256 over the tokenizer's files, so a checkpoint can tell whether it was trained with the same
    /// one.</summary>
    [JsonPropertyName("tokenizer_sha256")] public string TokenizerSha256 { get; init; } = "";

    [JsonIgnore] public int BytesPerToken => DType == "uint32" ? 4 : 2;

    public static ShardMeta Load(string directory)
    {
        string path = Path.Combine(directory, "meta.json");
        if (!File.Exists(path))
            throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)}: prepare the data first with 'gpt2-train " +
                                        $"prepare --input ... --tokenizer ... --out {directory}'");
        var meta = JsonText.ReadFile<ShardMeta>(path, "prepare the data again");
        if (meta.VocabSize <= 0 || meta.DType is not ("uint16" or "uint32") || meta.EosTokenId < 0
            || meta.EosTokenId >= meta.VocabSize)
            throw new Gpt2OnnxException($"{path}: not a valid shard description (vocab_size, dtype uint16 or uint32, " +
                                        "eos_token_id below vocab_size): prepare the data again");
        if (meta.Tokenizer.Length == 0 || Path.IsPathRooted(meta.Tokenizer)
            || meta.Tokenizer.Split('/', '\\').Any(part => part is "" or "." or ".."))
            throw new Gpt2OnnxException($"{path}: tokenizer must name a folder inside {directory}, not " +
                                        $"'{meta.Tokenizer}': prepare the data again");
        return meta;
    }

    public void Save(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, "meta.json"),
                                JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true })
                                    + "\n");
}
