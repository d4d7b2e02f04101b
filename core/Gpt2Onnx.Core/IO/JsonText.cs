using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gpt2Onnx.Core.IO;

/// <summary>
/// JSON for files and output people read: UTF-8 text stays as it is (中文, not \u4E2D\u6587); quotes,
/// backslashes and control characters are still escaped, so every line remains valid JSON.
/// </summary>
public static class JsonText
{
    public static readonly JsonSerializerOptions Readable =
        new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// <paramref name="utf8"/> without a leading UTF-8 byte-order mark, checked (<see cref="Check"/>) and parsed.
    /// Throws <see cref="JsonException"/> for anything wrong with it.
    /// </summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> utf8)
    {
        utf8 = WithoutByteOrderMark(utf8);
        Check(utf8);
        return JsonNode.Parse(utf8);
    }

    /// <summary>
    /// A JSON file this project wrote, read into <typeparamref name="T"/>, with one-line errors that end with
    /// <paramref name="remedy"/>: bad syntax is "not valid JSON (line L, byte B)"; a value of the wrong type, a
    /// null where <typeparamref name="T"/> holds a value, or a missing required entry names the entry. Files
    /// over 16 MB are refused unread.
    /// </summary>
    public static T ReadFile<T>(string path, string remedy) where T : class
    {
        var bytes = BoundedFile.ReadAllBytes(path, 16 << 20)
            ?? throw new Gpt2OnnxException($"{path} is over 16 MB, far more than this file holds: {remedy}");
        JsonNode? root;
        try
        {
            root = Parse(bytes);
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({Describe(e)}): {remedy}");
        }
        try
        {
            return root.Deserialize<T>(StrictTypes)
                ?? throw new Gpt2OnnxException($"{path} holds null, not an object: {remedy}");
        }
        catch (JsonException e)
        {
            string entry = e.Path is null or "$"
                ? "an entry is missing, or it is not an object"
                    : $"'{e.Path.TrimStart('$', '.')}' is missing or of the wrong type";
            throw new Gpt2OnnxException($"{path}: {entry}: {remedy}");
        }
    }

    private static readonly JsonSerializerOptions StrictTypes = new() { RespectNullableAnnotations = true };

    /// <summary>The bytes after a leading UTF-8 byte-order mark (which some editors write), if any.</summary>
    public static ReadOnlySpan<byte> WithoutByteOrderMark(ReadOnlySpan<byte> utf8) =>
        utf8.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? utf8[3..] : utf8;

    /// <summary>A file's bytes after a leading UTF-8 byte-order mark, if any, for readers that take memory.</summary>
    public static ReadOnlyMemory<byte> WithoutByteOrderMark(byte[] utf8) =>
        utf8.AsMemory(utf8.Length - WithoutByteOrderMark(utf8.AsSpan()).Length);

    /// <summary>
    /// Checks a JSON document strictly enough that reading it afterwards cannot fail: valid syntax, no property
    /// given twice in one object, and every string text: no bytes that are not UTF-8 and no escaped half of a
    /// surrogate pair ("\ud800"), which the JSON readers let through until the string is read. Throws
    /// <see cref="JsonException"/> with the line and byte of the first problem.
    /// </summary>
    public static void Check(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        // per open container: the object's property names (null for an array)
        var names = new Stack<HashSet<string>?>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject: names.Push([]); break;
                case JsonTokenType.StartArray: names.Push(null); break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray: names.Pop(); break;
                case JsonTokenType.PropertyName:
                    if (!names.Peek()!.Add(Text(ref reader, utf8)))
                        throw At(utf8, reader.TokenStartIndex,
                                 $"the property {Excerpt(JsonSerializer.Serialize(reader.GetString()))} is given " +
                                 "twice");
                    break;
                case JsonTokenType.String: Text(ref reader, utf8); break;
            }
        }

        static string Text(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8)
        {
            try
            {
                return reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw At(utf8, reader.TokenStartIndex,
                         "a string is not text (bytes that are not UTF-8, or an escaped half of a surrogate pair)");
            }
        }
    }

    /// <summary>JSON text for an error line: as it is up to 60 characters, cut with "…" beyond.</summary>
    public static string Excerpt(string json) => json.Length <= 60 ? json : json[..59] + "…";

    private static StrictnessException At(ReadOnlySpan<byte> utf8, long offset, string problem)
    {
        var before = utf8[..(int)offset];
        return new StrictnessException(problem, before.Count((byte)'\n'),
                                       offset - (before.LastIndexOf((byte)'\n') + 1));
    }

    /// <summary>Valid JSON syntax, but not what <see cref="Check"/> accepts; its message is ours, short and safe to
    /// show.</summary>
    private sealed class StrictnessException(string message, long line, long byteInLine)
        : JsonException(message, path: null, lineNumber: line, bytePositionInLine: byteInLine);

    /// <summary>
    /// Why a JSON document could not be read, for a one-line error: for a parse error, where ("line L, byte
    /// B", 1-based) without the parser's own message, which quotes the offending token (in a damaged file,
    /// possibly the rest of the file), after <see cref="Check"/>'s own short message when it was Check's;
    /// otherwise the first line of the message, at most 160 characters.
    /// </summary>
    public static string Describe(Exception e)
    {
        if (e is JsonException { LineNumber: { } line } json)
            return (e is StrictnessException ? e.Message + " at " : "")
                + $"line {line + 1}, byte {json.BytePositionInLine + 1}";
        string first = e.Message.Split('\n', 2)[0].TrimEnd();
        return first.Length <= 160 ? first : first[..160] + "…";
    }
}
