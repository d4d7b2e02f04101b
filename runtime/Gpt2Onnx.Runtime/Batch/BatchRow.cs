using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;

namespace Gpt2Onnx.Runtime.Batch;

/// <summary>
/// One input row of a batch job: {"id": ..., "prompt": "...", optional max_new_tokens, min_new_tokens,
/// temperature, top_k, top_p, repetition_penalty, presence_penalty, frequency_penalty, seed, stop, and the beam
/// search options of <see cref="BeamRowOptions"/>}. The id
/// keeps its JSON form (string or number) in the output. <see cref="OtherKeys"/> are the row's properties
/// that are none of these: kept out of generation (rows may carry metadata), and named so a misspelt
/// option does not pass unnoticed.
/// </summary>
public sealed record BatchRow(int Line, JsonNode IdJson, string Key, GenerationRequest Request,
                              IReadOnlyList<string> OtherKeys)
{
    /// <summary>The optional properties of a row, besides its id and prompt.</summary>
    public static readonly IReadOnlyList<string> OptionNames =
    [
        "max_new_tokens", "min_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty",
        "presence_penalty", "frequency_penalty", "seed", "stop", .. BeamRowOptions.Names,
    ];

    /// <summary>Parses one line; throws <see cref="Gpt2OnnxException"/> naming the line for anything
    /// malformed.</summary>
    public static BatchRow Parse(int line, string text, SamplingOptions defaults)
    {
        JsonObject row;
        try
        {
            row = JsonText.Parse(Encoding.UTF8.GetBytes(text)) as JsonObject
                  ?? throw new Gpt2OnnxException($"line {line}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"line {line}: not valid JSON ({JsonText.Describe(e)})");
        }
        var id = row["id"];
        if (id == null || id.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
            throw new Gpt2OnnxException($"line {line}: 'id' is missing or not a string or number");
        if (row["prompt"] is not JsonValue prompt || prompt.GetValueKind() != JsonValueKind.String)
            throw new Gpt2OnnxException($"line {line}: 'prompt' is missing or not a string");
        T Get<T>(string name, T fallback)
        {
            var node = row[name];
            if (node == null || node.GetValueKind() == JsonValueKind.Null) return fallback;
            try
            {
                // A whole number written as 3.0 or 1e2 (as pandas and many JSON writers write integer columns) is one.
                if (fallback is int or ulong && node.GetValueKind() == JsonValueKind.Number
                    && node.GetValue<JsonElement>().TryGetDecimal(out var number)
                    && number == decimal.Truncate(number) && number >= (fallback is int ? int.MinValue : 0)
                        && number <= (fallback is int ? int.MaxValue : ulong.MaxValue))
                    return (T)(object)(fallback is int ? (int)number : (ulong)number);
                return node.GetValue<T>();
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                string expected = fallback switch
                {
                    int => $"a whole number from {int.MinValue} to {int.MaxValue}",
                    ulong => $"a whole number from 0 to {ulong.MaxValue}",
                    string => "a string",
                    _ => "a number",
                };
                throw new Gpt2OnnxException($"line {line}: '{name}' must be {expected}, not " +
                                            $"{JsonText.Excerpt(node.ToJsonString())}");
            }
        }
        var stop = row["stop"] switch
        {
            null => defaults.StopStrings,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
            JsonArray a when a.All(s => s?.GetValueKind() == JsonValueKind.String) =>
                a.Select(s => s!.GetValue<string>()).ToList(),
            _ => throw new Gpt2OnnxException($"line {line}: 'stop' must be a string or an array of strings"),
        };
        string key = id.ToJsonString();
        // A row's sampling values ask for sampling, as on the command line.
        var options = defaults.WithSampling(row["temperature"] is null
                                            ? null : Get("temperature", defaults.Temperature),
                                            row["top_k"] is null ? null : Get("top_k", defaults.TopK),
                                            row["top_p"] is null ? null : Get("top_p", defaults.TopP)) with
        {
            MaxNewTokens = Get("max_new_tokens", defaults.MaxNewTokens),
            MinNewTokens = Get("min_new_tokens", defaults.MinNewTokens),
            RepetitionPenalty = Get("repetition_penalty", defaults.RepetitionPenalty),
            PresencePenalty = Get("presence_penalty", defaults.PresencePenalty),
            FrequencyPenalty = Get("frequency_penalty", defaults.FrequencyPenalty),
            // A seed derived from the id: the row's result depends neither on its shard nor on its batch.
            Seed = row["seed"] is null ? SeedFor(key) : Get<ulong>("seed", 0),
            StopStrings = stop,
            Beams = BeamRowOptions.Read(row, line),
        };
        try
        {
            options.Validate();
        }
        catch (Gpt2OnnxException e)
        {
            throw new Gpt2OnnxException($"line {line}: {e.Message}");
        }
        var others = row.Select(p => p.Key).Where(k => k is not ("id" or "prompt") && !OptionNames.Contains(k))
            .ToList();
        return new BatchRow(line, id.DeepClone(), key,
                            new GenerationRequest { Prompt = prompt.GetValue<string>(), Options = options }, others);
    }

    /// <summary>FNV-1a (64-bit) of the id's JSON text: stable across machines, processes and .NET versions.</summary>
    public static ulong SeedFor(string key)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
        {
            hash ^= b;
            hash *= 1099511628211UL;
        }
        return hash;
    }

    /// <summary>Whether the row belongs to shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    public bool InShard(int index, int count) => count <= 1 || (int)(SeedFor("shard:" + Key) % (ulong)count) == index;
}
