using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gpt2Onnx.Runtime.Cli.Serving;

/// <summary>
/// A request body's fields, read by name and type: a value of the wrong type or out of range is a 400 that names
/// the field. A field given as null counts as left out, as OpenAI's own clients send unset fields.
/// </summary>
internal sealed class RequestFields(JsonObject body)
{
    /// <summary>Reads a body of at most <paramref name="maxBytes"/> as a JSON object.</summary>
    public static async Task<RequestFields> ReadAsync(HttpRequest request, long maxBytes, CancellationToken aborted)
    {
        if (request.ContentLength > maxBytes) throw TooLarge(maxBytes);
        var buffer = new MemoryStream();
        var chunk = new byte[16 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, aborted)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > maxBytes) throw TooLarge(maxBytes);
        }
        try
        {
            return JsonNode.Parse(buffer.GetBuffer().AsMemory(0, (int)buffer.Length).Span) is JsonObject body
                ? new RequestFields(body)
                : throw new ApiError(400, "the body must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new ApiError(400, $"the body is not valid JSON: {e.Message}");
        }
    }

    private static ApiError TooLarge(long maxBytes) =>
        new(413, $"the body is over {maxBytes:N0} bytes, this server's limit (--max-body-bytes)",
            code: "request_too_large");

    public JsonNode? this[string name] => body[name];

    public bool Has(string name) => body[name] != null;

    public string? String(string name) => body[name] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        _ => throw ApiError.Invalid(name, $"'{name}' must be a string"),
    };

    public bool? Bool(string name) => body[name] switch
    {
        null => null,
        JsonValue value when value.GetValueKind() is JsonValueKind.True or JsonValueKind.False =>
            value.GetValue<bool>(),
        _ => throw ApiError.Invalid(name, $"'{name}' must be true or false"),
    };

    public double? Number(string name, double min, double max)
    {
        if (body[name] == null) return null;
        if (body[name] is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
            throw ApiError.Invalid(name, $"'{name}' must be a number");
        double number = value.GetValue<double>();
        return number >= min && number <= max ? number : throw OutOfRange(name, min, max, number);
    }

    public long? Integer(string name, long min, long max)
    {
        if (body[name] == null) return null;
        if (body[name] is not JsonValue value || !value.TryGetValue(out long number))
            throw ApiError.Invalid(name, $"'{name}' must be a whole number");
        return number >= min && number <= max ? number : throw OutOfRange(name, min, max, number);
    }

    private static ApiError OutOfRange(string name, double min, double max, double value) =>
        ApiError.Invalid(name, $"'{name}' must be from {min} to {max}, not {value}");

    public int? Int(string name, int min, int max) => (int?)Integer(name, min, max);

    /// <summary>A string or an array of at most <paramref name="maxCount"/> strings (stop, prompt).</summary>
    public IReadOnlyList<string>? Strings(string name, int maxCount)
    {
        switch (body[name])
        {
            case null:
                return null;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return [value.GetValue<string>()];
            case JsonArray array:
                if (array.Count > maxCount)
                    throw ApiError.Invalid(name, $"'{name}' may hold at most {maxCount} strings, not {array.Count}");
                return array.Select(item => item is JsonValue v && v.GetValueKind() == JsonValueKind.String
                    ? v.GetValue<string>()
                    : throw ApiError.Invalid(name, $"'{name}' must be a string or an array of strings")).ToList();
            default:
                throw ApiError.Invalid(name, $"'{name}' must be a string or an array of strings");
        }
    }
}
