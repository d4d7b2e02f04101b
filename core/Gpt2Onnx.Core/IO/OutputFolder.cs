namespace Gpt2Onnx.Core.IO;

/// <summary>The folder a tool writes (--out), checked before any work: a file in its place is one error, not an
/// exception after the work.</summary>
public static class OutputFolder
{
    public static void Check(string path)
    {
        for (var entry = Path.GetFullPath(path); !string.IsNullOrEmpty(entry); entry = Path.GetDirectoryName(entry))
        {
            if (Directory.Exists(entry)) return;
            if (File.Exists(entry))
                throw new Gpt2OnnxException(entry == Path.GetFullPath(path)
                    ? $"{path} is a file: --out names the folder to write, so choose another path"
                    : $"cannot make the folder {path}: {entry} is a file; choose another --out");
        }
    }
}
