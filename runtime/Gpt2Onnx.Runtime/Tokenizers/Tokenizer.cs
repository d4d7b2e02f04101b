namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>Opens whichever tokenizer a folder holds.</summary>
public static class Tokenizer
{
    /// <summary>
    /// vocab.json + merges.txt: GPT-2 byte-level BPE; vocab.txt: WordPiece. Throws a clear error for a
    /// folder with neither.
    /// </summary>
    public static ITokenizer Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new Gpt2OnnxException($"the tokenizer folder {directory} does not exist: pass a folder with vocab.json + merges.txt, or vocab.txt");
        if (File.Exists(Path.Combine(directory, "vocab.json")) || File.Exists(Path.Combine(directory, "merges.txt")))
            return BpeTokenizer.Load(directory);
        if (File.Exists(Path.Combine(directory, "vocab.txt")))
            return WordPieceTokenizer.Load(directory);
        if (File.Exists(Path.Combine(directory, "tokenizer.json")))
            throw new Gpt2OnnxException($"{directory} holds only tokenizer.json (Hugging Face's fast-tokenizer file), which this tool does not read: " +
                                        "write the vocabulary files beside it with transformers' tokenizer.save_pretrained(folder, legacy_format=True) " +
                                        "(vocab.json + merges.txt, or vocab.txt)");
        throw new Gpt2OnnxException($"{directory} holds no tokenizer (vocab.json + merges.txt, or vocab.txt): pass a tokenizer folder, or train one with 'gpt2-train tokenizer'");
    }
}
