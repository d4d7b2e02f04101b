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
}
