using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation.Beams;

namespace Gpt2Onnx.Runtime.Batch;

/// <summary>
/// A batch row's beam search options, with Hugging Face's names: num_beams, length_penalty, early_stopping
/// (true, false or "never"), no_repeat_ngram_size, num_return_sequences; and the sequences a row returns.
/// </summary>
public static class BeamRowOptions
{
    public static readonly IReadOnlyList<string> Names =
        ["num_beams", "length_penalty", "early_stopping", "no_repeat_ngram_size", "num_return_sequences"];

    /// <summary>The row's options (off when it has none); throws one error naming the line and the property.</summary>
    public static BeamSearchOptions Read(JsonObject row, int line)
    {
        if (!Names.Any(row.ContainsKey)) return BeamSearchOptions.Off;
        var defaults = new BeamSearchOptions();
        try
        {
            return new BeamSearchOptions
            {
                NumBeams = Whole(row, "num_beams", 0, line),
                LengthPenalty = Number(row, "length_penalty", defaults.LengthPenalty, line),
                EarlyStopping = Stopping(row["early_stopping"], line),
                NoRepeatNgramSize = Whole(row, "no_repeat_ngram_size", 0, line),
                NumReturnSequences = Whole(row, "num_return_sequences", 1, line),
            }.Validate();
        }
        catch (Gpt2OnnxException e) when (!e.Message.StartsWith("line "))
        {
            throw new Gpt2OnnxException($"line {line}: {e.Message}");
        }
    }

    /// <summary>[{ids, text, score}] for a row's returned sequences, best first.</summary>
    public static JsonArray SequencesJson(IReadOnlyList<BeamSequence> sequences) =>
        new(sequences.Select(s => (JsonNode)new JsonObject
        {
            ["ids"] = new JsonArray(s.TokenIds.Select(id => (JsonNode)id).ToArray()), ["text"] = s.Text,
            ["score"] = s.Score,
        }).ToArray());

    private static int Whole(JsonObject row, string name, int fallback, int line)
    {
        var node = row[name];
        if (node == null) return fallback;
        if (node.GetValueKind() == JsonValueKind.Number && node.GetValue<JsonElement>().TryGetInt32(out int value))
            return value;
        throw new Gpt2OnnxException($"line {line}: '{name}' must be a whole number, not " +
                                    JsonText.Excerpt(node.ToJsonString()));
    }

    private static double Number(JsonObject row, string name, double fallback, int line)
    {
        var node = row[name];
        if (node == null) return fallback;
        if (node.GetValueKind() == JsonValueKind.Number) return node.GetValue<JsonElement>().GetDouble();
        throw new Gpt2OnnxException($"line {line}: '{name}' must be a number, not " +
                                    JsonText.Excerpt(node.ToJsonString()));
    }

    private static EarlyStopping Stopping(JsonNode? node, int line) => node?.GetValueKind() switch
    {
        null => EarlyStopping.Heuristic,
        JsonValueKind.True => EarlyStopping.WhenFull,
        JsonValueKind.False => EarlyStopping.Heuristic,
        JsonValueKind.String => BeamSearchOptions.ParseEarlyStopping(node.GetValue<string>()),
        _ => throw new Gpt2OnnxException($"line {line}: 'early_stopping' must be true, false or \"never\""),
    };
}
