using System.Security.Cryptography;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>The files that make a tokenizer folder, and operations on the set.</summary>
public static class TokenizerFolder
{
    public static readonly string[] FileNames = ["vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json"];

    /// <summary>SHA-256 over the tokenizer's files (names and contents, in a fixed order).</summary>
    public static string Hash(string directory)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var name in FileNames)
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path)) continue;
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(name + "\n"));
            sha.AppendData(TokenizerFiles.ReadCapped(path, "a tokenizer file"));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Copies the tokenizer's files into <paramref name="destination"/>.</summary>
    public static void CopyTo(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var name in FileNames)
        {
            string path = Path.Combine(source, name);
            if (File.Exists(path)) File.Copy(path, Path.Combine(destination, name), overwrite: true);
        }
    }
}
