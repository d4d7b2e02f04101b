using System.Text.Encodings.Web;
using System.Text.Json;

namespace Gpt2Onnx.Runtime.IO;

/// <summary>
/// JSON for files and output people read: UTF-8 text stays as it is (中文, not \u4E2D\u6587); quotes,
/// backslashes and control characters are still escaped, so every line remains valid JSON.
/// </summary>
public static class JsonText
{
    public static readonly JsonSerializerOptions Readable = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Why a JSON document could not be read, for a one-line error: for a parse error, where ("line L, byte
    /// B", 1-based) without the parser's own message, which quotes the offending token (in a damaged file,
    /// possibly the rest of the file); otherwise the first line of the message, at most 160 characters.
    /// </summary>
    public static string Describe(Exception e)
    {
        if (e is JsonException { LineNumber: { } line } json) return $"line {line + 1}, byte {json.BytePositionInLine + 1}";
        string first = e.Message.Split('\n', 2)[0].TrimEnd();
        return first.Length <= 160 ? first : first[..160] + "…";
    }
}
