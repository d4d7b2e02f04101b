using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Google.Protobuf;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.Checkpoints;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Core.Onnx.Proto;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Exporter.Checkpoints;
using Gpt2Onnx.Exporter.Checkpoints.TensorFlow;
using Gpt2Onnx.Exporter.Graphs;
using Gpt2Onnx.Exporter.Onnx;
using Gpt2Onnx.Runtime.Onnx;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Exporter;

/// <summary>What an export produced.</summary>
/// <param name="HasTokenizer">whether the checkpoint's tokenizer went with it; without one, gpt2-run cannot load the
/// folder</param>
public sealed record ExportResult(string OutputDirectory, long ModelBytes, long DataBytes, int Nodes, double Seconds,
                                  bool HasTokenizer);

/// <summary>
/// Writes the ONNX folder of docs/architecture.md from an HF-layout checkpoint: model.onnx (+ model.onnx.data
/// for large or when asked), config.json, generation_config.json, the tokenizer files and
/// genai_config.json. The folder is assembled under a temporary name and renamed into place, so a failed
/// export leaves nothing behind and an existing folder is replaced only with --force.
/// </summary>
public static class OnnxExporter
{
    public const string ModelFile = "model.onnx";
    public const string DataFile = "model.onnx.data";
    public const int IrVersion = 8;
    public const int Opset = 17;
    /// <summary>Protobuf cannot serialise a message over 2 GB; stay clear of it.</summary>
    private const long InlineLimit = 1_800_000_000;
    private static readonly string[] CopiedFiles =
        ["generation_config.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer.json", "tokenizer_config.json"];

    public static ExportResult Export(string checkpointDirectory, string outputDirectory, ExportOptions options)
    {
        options = options.Validate();
        var clock = Stopwatch.StartNew();
        outputDirectory = Path.GetFullPath(outputDirectory.TrimEnd('/'));
        OutputFolder.Check(outputDirectory);
        PathOverlap.Refuse(outputDirectory, "--out", checkpointDirectory, "--checkpoint"); // --force would replace it
        if (Directory.Exists(outputDirectory) && Directory.EnumerateFileSystemEntries(outputDirectory).Any()
            && !options.Force)
            throw new Gpt2OnnxException($"{outputDirectory} already exists: pass --force to replace it, or choose " +
                                        "another --out");
        using var checkpoint = Gpt2Checkpoint.Open(checkpointDirectory);
        var generation = GenerationConfig.Read(checkpointDirectory, checkpoint.Config); // before any work
        var tokenizer = CheckTokenizer(checkpointDirectory, checkpoint.Config);

        string temporary = outputDirectory + ".tmp-" + Environment.ProcessId;
        // an earlier export killed midway
        AtomicFile.RemoveAbandoned(Path.GetDirectoryName(outputDirectory)!, Path.GetFileName(outputDirectory));
        if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        Directory.CreateDirectory(temporary);
        try
        {
            var graph = options.Variant == GraphVariant.Portable
                ? PortableGraph.Build(checkpoint, options) : FusedGraph.Build(checkpoint, options);
            if (options.WithHiddenStates) HiddenStateOutputs.Add(graph, checkpoint.Config);
            var model = new ModelProto
            {
                IrVersion = IrVersion,
                ProducerName = "gpt2onnx",
                ProducerVersion = "1",
                Domain = "ai.gpt2onnx",
                ModelVersion = 1,
                DocString = $"GPT-2 ({checkpoint.Config.NLayer} layers, {checkpoint.Config.NEmbd} wide) with a " +
                            "key/value cache",
                Graph = graph.Graph,
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            if (options.Variant == GraphVariant.Fused)
                model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
            foreach (var (key, value) in Metadata(checkpoint.Config, options,
                                                  TrainingRecord.TrainedPositions(checkpoint.Directory)))
                model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });

            long dataBytes = 0;
            if (options.ExternalData || graph.InitializerBytes > InlineLimit)
                dataBytes = MoveWeightsToDataFile(model.Graph, Path.Combine(temporary, DataFile));
            using (var stream = File.Create(Path.Combine(temporary, ModelFile)))
            {
                model.WriteTo(stream);
                stream.Flush(flushToDisk: true);
            }
            long modelBytes = new FileInfo(Path.Combine(temporary, ModelFile)).Length;

            checkpoint.Config.Save(Path.Combine(temporary, CheckpointLayout.ConfigFile));
            foreach (var name in CopiedFiles)
            {
                string source = Path.Combine(checkpointDirectory, name);
                if (File.Exists(source)) File.Copy(source, Path.Combine(temporary, name));
            }
            if (tokenizer is BpeTokenizer bpe && !File.Exists(Path.Combine(temporary, "vocab.json")))
                bpe.Save(temporary); // OpenAI's encoder.json and vocab.bpe, under the names the runtime reads
            if (tokenizer != null) HuggingFaceTokenizerFiles.Write(tokenizer, temporary);
            File.WriteAllText(Path.Combine(temporary, "genai_config.json"),
                              GenaiConfig(checkpoint.Config, options, generation)
                                  .ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

            if (Directory.Exists(outputDirectory)) Directory.Delete(outputDirectory, recursive: true);
            Directory.Move(temporary, outputDirectory);
            return new ExportResult(outputDirectory, modelBytes, dataBytes, model.Graph.Node.Count,
                                    clock.Elapsed.TotalSeconds, tokenizer != null);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// The model's custom metadata: the variant and what a runtime must know to drive it, and how many positions
    /// the weights were trained on when that is known and short of the model's context (positions past it
    /// were never trained).
    /// </summary>
    public static IReadOnlyList<(string Key, string Value)> Metadata(Gpt2Config config, ExportOptions options,
                                                                     int? trainedPositions = null)
    {
        bool fused = options.Variant == GraphVariant.Fused;
        var entries = new List<(string, string)>
        {
            ("gpt2onnx.format_version", "2"),
            ("gpt2onnx.variant", options.Variant.ToString().ToLowerInvariant()),
            ("gpt2onnx.precision", options.Precision.ToString().ToLowerInvariant()),
            ("gpt2onnx.num_layers", config.NLayer.ToString()),
            ("gpt2onnx.num_heads", config.NHead.ToString()),
            ("gpt2onnx.head_size", config.HeadSize.ToString()),
            ("gpt2onnx.context_length", config.NPositions.ToString()),
            ("gpt2onnx.vocab_size", config.VocabSize.ToString()),
            // The fused graph's pasts are one buffer of the maximum length per layer, shared with the presents,
            // and its rows are right-padded; the portable graph concatenates, and takes left padding.
            ("gpt2onnx.past_present_share_buffer", fused ? "true" : "false"),
            ("gpt2onnx.padding", fused ? "right" : "left"),
            ("gpt2onnx.optional_inputs", $"{GraphNames.LogitsToKeep}: int64 scalar, default 0; logits for the last N " +
                                         "positions only (0: all)"),
        };
        if (options.WeightBits is int bits)
        {
            entries.Add(($"gpt2onnx.int{bits}_block_size", options.BlockSize.ToString()));
            entries.Add(("gpt2onnx.head_precision", options.HeadBits is int head ? $"int{head}" : "fp32"));
            if (options.HeadInt8RowsOf(config.VocabSize) is > 0 and var rows)
                entries.Add(("gpt2onnx.head_int8_rows", rows.ToString()));
        }
        if (trainedPositions is int trained && trained < config.NPositions)
            entries.Add(("gpt2onnx.trained_context", trained.ToString()));
        return entries;
    }

    /// <summary>
    /// The checkpoint's tokenizer (which the export copies, and writes as tokenizer.json), or null for a checkpoint
    /// without one, loaded as the runtime will load it: one with more ids than the model is refused now, not when the
    /// export is first run.
    /// </summary>
    private static ITokenizer? CheckTokenizer(string checkpointDirectory, Gpt2Config config)
    {
        ITokenizer? tokenizer = TfCheckpointFolder.OpenAiTokenizer(checkpointDirectory);
        if (tokenizer == null && !Tokenizer.IsIn(checkpointDirectory)) return null;
        tokenizer ??= Tokenizer.Load(checkpointDirectory);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new Gpt2OnnxException($"{checkpointDirectory}: its tokenizer has {tokenizer.VocabSize} ids but the " +
                                        $"model only {config.VocabSize}: the folder mixes two models; put the " +
                                        "model's own tokenizer beside it");
        return tokenizer;
    }

    /// <summary>
    /// genai_config.json in onnxruntime-genai's schema and nothing else (its reader refuses keys it does
    /// not know); what is ours (variant, precision, block size) is in the model's metadata.
    /// </summary>
    private static JsonObject GenaiConfig(Gpt2Config config, ExportOptions options, GenerationConfig generation)
    {
        bool fused = options.Variant == GraphVariant.Fused;
        var inputs = new JsonObject
        {
            ["input_ids"] = "input_ids",
            ["attention_mask"] = "attention_mask",
            ["position_ids"] = "position_ids",
            ["past_key_names"] = "past_key_values.%d.key",
            ["past_value_names"] = "past_key_values.%d.value",
        };
        return new JsonObject
        {
            ["model"] = new JsonObject
            {
                // "decoder": onnxruntime-genai's generic decoder-only model, fed the inputs named below; its
                // "gpt2" type expects another input layout, and its Generator refused our graphs
                // ("Model input was not found").
                ["type"] = "decoder",
                ["bos_token_id"] = config.BosTokenId,
                ["eos_token_id"] = generation.Eos,
                ["pad_token_id"] = generation.Eos,
                ["vocab_size"] = config.VocabSize,
                ["context_length"] = config.NPositions,
                ["decoder"] = new JsonObject
                {
                    ["filename"] = ModelFile,
                    ["session_options"] = new JsonObject { ["log_id"] = "gpt2onnx",
                                                           ["provider_options"] = new JsonArray() },
                    ["head_size"] = config.HeadSize,
                    ["hidden_size"] = config.NEmbd,
                    ["num_attention_heads"] = config.NHead,
                    ["num_key_value_heads"] = config.NHead,
                    ["num_hidden_layers"] = config.NLayer,
                    ["inputs"] = inputs,
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = "logits",
                        ["present_key_names"] = "present.%d.key",
                        ["present_value_names"] = "present.%d.value",
                    },
                },
            },
            ["search"] = new JsonObject(HuggingFaceSampling.Write(generation.Sampling))
            {
                ["max_length"] = config.NPositions,
                ["min_length"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = fused,
            },
        };
    }

    /// <summary>
    /// Moves every weight's bytes into one data file (each 64-byte aligned) and leaves references. Small
    /// initializers (shape constants) stay inline: ONNX Runtime's shape inference reads them before it loads external
    /// data.
    /// </summary>
    private static long MoveWeightsToDataFile(GraphProto graph, string path)
    {
        const int InlineBelow = 1024;
        long offset = 0;
        using var data = File.Create(path);
        foreach (var tensor in graph.Initializer)
        {
            if (tensor.RawData.Length < InlineBelow) continue;
            long padding = (64 - offset % 64) % 64;
            data.Write(new byte[padding]);
            offset += padding;
            var raw = tensor.RawData;
            data.Write(raw.Span);
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = DataFile });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString() });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = raw.Length.ToString() });
            tensor.RawData = ByteString.Empty;
            offset += raw.Length;
        }
        data.Flush(flushToDisk: true);
        return offset;
    }
}
