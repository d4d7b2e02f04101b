namespace Gpt2Onnx.Core.IO;

/// <summary>
/// Why a file the tools need cannot be read as one, in the words of an error line: a folder in its place is
/// not "missing" (the file is, but the folder is what the user should look at).
/// </summary>
public static class MissingFile
{
    /// <summary>"is a folder, not a file" or "is missing", to follow the path in a message.</summary>
    public static string Why(string path) => Directory.Exists(path) ? "is a folder, not a file" : "is missing";
}
