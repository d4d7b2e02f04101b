namespace Gpt2Onnx.Runtime.Tests.Reference;

/// <summary>
/// Runs tokenizers.js (npm @huggingface/tokenizers, a port of Hugging Face's tokenizers) as a BERT WordPiece
/// tokenizer: BertNormalizer with the given settings, BertPreTokenizer, WordPiece over <paramref name="vocab"/>.
/// </summary>
internal static class BertReference
{
    public static int[][] Encode(IReadOnlyList<string> vocab, bool lowerCase, bool? stripAccents, bool splitCjk,
                                 IReadOnlyList<string> texts) =>
        NodeReference.Run<int[][]>("bert-wordpiece.js",
                                   new { vocab, lowercase = lowerCase, strip_accents = stripAccents,
                                         handle_chinese_chars = splitCjk, texts });
}
