using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Exporter;

/// <summary>
/// tokenizer.json and tokenizer_config.json, Hugging Face's fast-tokenizer files, for an export folder: they are
/// what onnxruntime-genai's Tokenizer (onnxruntime-extensions) and transformers 5 read, where our trainer writes
/// vocab.json + merges.txt or vocab.txt. Written from the tokenizer as this runtime loads it, so each describes
/// the ids the runtime gives: GPT-2's byte-level BPE (no normalizer, ByteLevel pre-tokenizer without a prefix
/// space), or BERT's WordPiece (BertNormalizer with the tokenizer's own settings, BertPreTokenizer, and no
/// [CLS]/[SEP] template, since the language model was trained on text without them).
/// </summary>
public static class HuggingFaceTokenizerFiles
{
    public const string TokenizerJson = "tokenizer.json";
    public const string TokenizerConfig = "tokenizer_config.json";

    /// <summary>
    /// Writes both files into <paramref name="folder"/> (each atomically) for <paramref name="tokenizer"/>. A
    /// tokenizer.json already there (copied from a checkpoint saved by transformers) is kept; a tokenizer_config.json
    /// already there keeps its entries and gains the ones a reader needs (the tokenizer's class, its special tokens).
    /// </summary>
    public static void Write(ITokenizer tokenizer, string folder)
    {
        string json = Path.Combine(folder, TokenizerJson);
        if (!File.Exists(json))
            AtomicFile.Write(json, stream =>
            {
                var options = new JsonWriterOptions { Indented = true,
                                                      Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
                using var writer = new Utf8JsonWriter(stream, options);
                switch (tokenizer)
                {
                    case BpeTokenizer bpe: WriteBpe(bpe, writer); break;
                    case WordPieceTokenizer wordPiece: WriteWordPiece(wordPiece, writer); break;
                    default: throw new Gpt2OnnxException($"no tokenizer.json describes a {tokenizer.GetType().Name}");
                }
            });
        var config = ReadConfig(Path.Combine(folder, TokenizerConfig));
        foreach (var (key, value) in ConfigEntries(tokenizer))
            if (!config.ContainsKey(key)) config[key] = value;
        string text = config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
        AtomicFile.WriteAllText(Path.Combine(folder, TokenizerConfig), text);
    }

    /// <summary>What tokenizer_config.json says of this tokenizer: its class, special tokens and text
    /// settings.</summary>
    private static IEnumerable<(string Key, JsonNode? Value)> ConfigEntries(ITokenizer tokenizer)
    {
        string endOfText = tokenizer.IdToToken(tokenizer.EndOfTextId);
        if (tokenizer is BpeTokenizer)
        {
            // GPT-2's own: one token begins, ends and stands for unknown text; nothing added around a text.
            yield return ("tokenizer_class", "GPT2Tokenizer");
            yield return ("bos_token", endOfText);
            yield return ("eos_token", endOfText);
            yield return ("unk_token", endOfText);
            yield return ("add_bos_token", false);
            yield return ("add_prefix_space", false);
            // Decoding must give back the text's bytes, spaces before punctuation included.
            yield return ("clean_up_tokenization_spaces", false);
            yield break;
        }
        var wordPiece = (WordPieceTokenizer)tokenizer;
        yield return ("tokenizer_class", "BertTokenizer");
        yield return ("do_lower_case", wordPiece.LowerCase);
        yield return ("strip_accents", wordPiece.StripAccents);
        yield return ("tokenize_chinese_chars", wordPiece.SplitCjk);
        yield return ("unk_token", wordPiece.IdToToken(wordPiece.UnknownId));
        yield return ("eos_token", endOfText);
        var bertTokens = new[] { ("pad_token", "[PAD]"), ("cls_token", "[CLS]"), ("sep_token", "[SEP]"),
                                 ("mask_token", "[MASK]") };
        foreach (var (key, token) in bertTokens)
            if (wordPiece.TokenToId(token) != null) yield return (key, token);
        yield return ("clean_up_tokenization_spaces", false);
    }

    private static JsonObject ReadConfig(string path)
    {
        if (!File.Exists(path)) return new JsonObject();
        var bytes = TokenizerFiles.ReadCapped(path, "the tokenizer configuration");
        try
        {
            return JsonText.Parse(bytes) as JsonObject
                   ?? throw new Gpt2OnnxException($"{path}: expected a JSON object: fix or delete the file");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): fix or delete the file");
        }
    }

    private static void WriteBpe(BpeTokenizer bpe, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        WriteHeader(writer, bpe.SpecialTokenIds.OrderBy(s => s.Value).Select(s => (s.Key, s.Value)));
        writer.WriteNull("normalizer");
        WriteByteLevel(writer, "pre_tokenizer", prefixSpace: false, trimOffsets: true);
        // GPT-2's own post-processor and decoder (their prefix-space flag changes nothing when encoding or decoding).
        WriteByteLevel(writer, "post_processor", prefixSpace: true, trimOffsets: false);
        WriteByteLevel(writer, "decoder", prefixSpace: true, trimOffsets: true);
        writer.WriteStartObject("model");
        writer.WriteString("type", "BPE");
        writer.WriteNull("dropout");
        writer.WriteNull("unk_token");
        writer.WriteString("continuing_subword_prefix", "");
        writer.WriteString("end_of_word_suffix", "");
        writer.WriteBoolean("fuse_unk", false);
        writer.WriteBoolean("byte_fallback", false);
        writer.WriteBoolean("ignore_merges", false);
        writer.WriteStartObject("vocab");
        for (int id = 0; id < bpe.VocabSize; id++) writer.WriteNumber(bpe.IdToToken(id), id);
        writer.WriteEndObject();
        writer.WriteStartArray("merges");
        foreach (var (left, right) in bpe.Merges) writer.WriteStringValue($"{left} {right}");
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter writer, string name, bool prefixSpace, bool trimOffsets)
    {
        writer.WriteStartObject(name);
        writer.WriteString("type", "ByteLevel");
        writer.WriteBoolean("add_prefix_space", prefixSpace);
        writer.WriteBoolean("trim_offsets", trimOffsets);
        writer.WriteBoolean("use_regex", true);
        writer.WriteEndObject();
    }

    private static void WriteWordPiece(WordPieceTokenizer wordPiece, Utf8JsonWriter writer)
    {
        // Every bracketed token is special to this runtime's WordPiece, as to BERT's.
        var special = wordPiece.Tokens.Select((token, id) => (token, id))
            .Where(t => t.token.Length > 2 && t.token[0] == '[' && t.token[^1] == ']');
        writer.WriteStartObject();
        WriteHeader(writer, special);
        writer.WriteStartObject("normalizer");
        writer.WriteString("type", "BertNormalizer");
        writer.WriteBoolean("clean_text", true);
        writer.WriteBoolean("handle_chinese_chars", wordPiece.SplitCjk);
        writer.WriteBoolean("strip_accents", wordPiece.StripAccents);
        writer.WriteBoolean("lowercase", wordPiece.LowerCase);
        writer.WriteEndObject();
        writer.WriteStartObject("pre_tokenizer");
        writer.WriteString("type", "BertPreTokenizer");
        writer.WriteEndObject();
        writer.WriteNull("post_processor");
        writer.WriteStartObject("decoder");
        writer.WriteString("type", "WordPiece");
        writer.WriteString("prefix", WordPieceTokenizer.Continuation);
        writer.WriteBoolean("cleanup", true);
        writer.WriteEndObject();
        writer.WriteStartObject("model");
        writer.WriteString("type", "WordPiece");
        writer.WriteString("unk_token", wordPiece.IdToToken(wordPiece.UnknownId));
        writer.WriteString("continuing_subword_prefix", WordPieceTokenizer.Continuation);
        writer.WriteNumber("max_input_chars_per_word", WordPieceTokenizer.MaxWordChars);
        writer.WriteStartObject("vocab");
        for (int id = 0; id < wordPiece.VocabSize; id++) writer.WriteNumber(wordPiece.IdToToken(id), id);
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary>The version, no truncation or padding, and the special tokens as added tokens (matched
    /// whole).</summary>
    private static void WriteHeader(Utf8JsonWriter writer, IEnumerable<(string Token, int Id)> special)
    {
        writer.WriteString("version", "1.0");
        writer.WriteNull("truncation");
        writer.WriteNull("padding");
        writer.WriteStartArray("added_tokens");
        foreach (var (token, id) in special)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", id);
            writer.WriteString("content", token);
            writer.WriteBoolean("single_word", false);
            writer.WriteBoolean("lstrip", false);
            writer.WriteBoolean("rstrip", false);
            writer.WriteBoolean("normalized", false);
            writer.WriteBoolean("special", true);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }
}
