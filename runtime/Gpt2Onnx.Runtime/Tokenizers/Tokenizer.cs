using Gpt2Onnx.Core;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>Opens whichever tokenizer a folder holds.</summary>
public static class Tokenizer
{
    /// <summary>
    /// vocab.json + merges.txt: GPT-2 byte-level BPE; vocab.txt: WordPiece; tokenizer.json alone: GPT-2's
    /// byte-level BPE or BERT's WordPiece as Hugging Face's fast tokenizer stores them. Throws a clear error for a
    /// folder with none.
    /// </summary>
    public static ITokenizer Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new Gpt2OnnxException($"the tokenizer folder {directory} does not exist: pass a folder with " +
                                        "vocab.json + merges.txt, or vocab.txt");
        if (File.Exists(Path.Combine(directory, "vocab.json")) || File.Exists(Path.Combine(directory, "merges.txt")))
            return BpeTokenizer.Load(directory);
        if (File.Exists(Path.Combine(directory, "vocab.txt")))
            return WordPieceTokenizer.Load(directory);
        string fast = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(fast))
        {
            using var document = TokenizerFiles.ParseTokenizerJson(fast);
            return TokenizerFiles.PartType(document.RootElement.GetProperty("model")) == "WordPiece"
                ? WordPieceTokenizer.FromTokenizerJson(document.RootElement, directory, fast)
                : BpeTokenizer.FromTokenizerJson(document.RootElement, directory, fast);
        }
        throw new Gpt2OnnxException($"{directory} holds no tokenizer (vocab.json + merges.txt, or vocab.txt): pass a " +
                                    "tokenizer folder, or train one with 'gpt2-train tokenizer'");
    }

    /// <summary>Whether <paramref name="directory"/> holds any of the files <see cref="Load"/> reads a tokenizer
    /// from.</summary>
    public static bool IsIn(string directory) =>
        new[] { "vocab.json", "merges.txt", "vocab.txt",
                "tokenizer.json" }.Any(name => File.Exists(Path.Combine(directory, name)));
}
