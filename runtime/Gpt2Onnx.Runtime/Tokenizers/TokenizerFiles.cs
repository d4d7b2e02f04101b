using System.Text;
using System.Text.Json;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Tokenizers;

/// <summary>
/// Reading and writing the Hugging Face tokenizer files, with one clear error for each way a file can
/// be wrong. Files are size-capped before they are read, so a hostile file cannot exhaust memory.
/// </summary>
public static class TokenizerFiles
{
    /// <summary>The largest tokenizer file read: far above any real one (GPT-2's vocab.json is 1 MB).</summary>
    private const long MaxFileBytes = 256L << 20;

    /// <summary>vocab.json: one JSON object, token → id.</summary>
    public static Dictionary<string, int> ReadVocabJson(string path)
    {
        byte[] bytes = ReadCapped(path, "the tokenizer's vocabulary");
        var vocab = new Dictionary<string, int>();
        try
        {
            var json = JsonText.WithoutByteOrderMark(bytes).Span;
            JsonText.Check(json); // so reading each token below cannot fail
            var reader = new Utf8JsonReader(json,
                                            new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new Gpt2OnnxException($"{path}: expected a JSON object of token → id: is this a vocab.json?");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string token = reader.GetString()!;
                if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id))
                    throw new Gpt2OnnxException($"{path}: the token '{token}' has no integer id: the file is " +
                                                "damaged; reinstall or regenerate it");
                vocab.Add(token, id); // a token given twice is caught by the check
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new Gpt2OnnxException($"{path}: the JSON object is not closed (the file is truncated): " +
                                            "reinstall or regenerate it");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): the file is truncated or " +
                                        "damaged; reinstall or regenerate it");
        }
        if (vocab.Count == 0)
            throw new Gpt2OnnxException($"{path}: the vocabulary is empty: reinstall or regenerate it");
        return vocab;
    }

    /// <summary>merges.txt: an optional "#version" line, then one "left right" pair per line, in rank order.</summary>
    public static List<(string Left, string Right)> ReadMerges(string path)
    {
        byte[] bytes = ReadCapped(path, "the tokenizer's merge rules");
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new Gpt2OnnxException($"{path}: not UTF-8 text: the file is damaged; reinstall or regenerate it");
        }
        var merges = new List<(string, string)>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (i == 0 && line.StartsWith("#version")) continue;
            if (line.Length == 0)
            {
                if (lines.Skip(i + 1).Any(l => l.TrimEnd('\r').Length > 0))
                    throw new Gpt2OnnxException($"{path}:{i + 1}: an empty line among the merges: the file is " +
                                                "damaged; reinstall or regenerate it");
                continue;
            }
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new Gpt2OnnxException($"{path}:{i + 1}: expected two symbols separated by one space, found " +
                                            $"'{line}': the file is damaged; reinstall or regenerate it");
            merges.Add((parts[0], parts[1]));
        }
        return merges;
    }

    /// <summary>vocab.txt (WordPiece): one token per line; the line number (from 0) is the id.</summary>
    public static List<string> ReadVocabTxt(string path)
    {
        byte[] bytes = ReadCapped(path, "the WordPiece vocabulary");
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new Gpt2OnnxException($"{path}: not UTF-8 text: the file is damaged; reinstall or regenerate it");
        }
        var tokens = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (tokens.Count > 0 && tokens[^1].Length == 0) tokens.RemoveAt(tokens.Count - 1);
        var seen = new HashSet<string>();
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].Length == 0)
                throw new Gpt2OnnxException($"{path}:{i + 1}: an empty token: the file is damaged; reinstall or " +
                                            "regenerate it");
            if (!seen.Add(tokens[i]))
                throw new Gpt2OnnxException($"{path}:{i + 1}: the token '{tokens[i]}' appears twice: the file is " +
                                            "damaged; reinstall or regenerate it");
        }
        if (tokens.Count == 0)
            throw new Gpt2OnnxException($"{path}: the vocabulary is empty: reinstall or regenerate it");
        return tokens;
    }

    /// <summary>
    /// The special tokens that tokenizer_config.json declares (eos/bos/unk/pad/additional, as strings or
    /// {"content": ...} objects), resolved to ids by the caller; null when there is no such file.
    /// </summary>
    public static TokenizerConfig? ReadConfig(string directory)
    {
        string path = Path.Combine(directory, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        byte[] bytes = ReadCapped(path, "the tokenizer configuration");
        try
        {
            using var document = ParseChecked(bytes);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new Gpt2OnnxException($"{path}: expected a JSON object: fix or delete the file");
            string? Token(string name) =>
                root.TryGetProperty(name, out var value) ? value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.Object when value.TryGetProperty("content", out var content) => content.GetString(),
                    JsonValueKind.Null => null,
                    _ => throw new Gpt2OnnxException($"{path}: '{name}' must be a string or an object with " +
                                                     "'content': fix the file"),
                } : null;
            var additional = new List<string>();
            if (root.TryGetProperty("additional_special_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
                additional.AddRange(list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Object
                                                                 ? e.GetProperty("content").GetString()!
                                                                     : e.GetString()!));
            bool? Flag(string name) => OptionalBool(root, name, $"{path}: '{name}'", "fix the file");
            return new TokenizerConfig(Token("eos_token"), Token("bos_token"), Token("unk_token"), Token("pad_token"),
                                       additional,
                                       Flag("do_lower_case"), Flag("strip_accents"), Flag("tokenize_chinese_chars"));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new Gpt2OnnxException($"{path}: not a valid tokenizer configuration ({JsonText.Describe(e)}): fix " +
                                        "or delete the file");
        }
    }

    /// <summary>tokenizer.json (Hugging Face's fast-tokenizer file) parsed, with a "model" object checked
    /// for.</summary>
    public static JsonDocument ParseTokenizerJson(string path)
    {
        byte[] bytes = ReadCapped(path, "the fast-tokenizer file");
        JsonDocument document;
        try
        {
            document = ParseChecked(bytes);
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): the file is truncated or " +
                                        "damaged; write it again");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object
            || !document.RootElement.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new Gpt2OnnxException($"{path}: no \"model\" object: is this a tokenizer.json?");
        }
        return document;
    }

    /// <summary>The "type" of a tokenizer.json part (model, normalizer, pre_tokenizer), or null.</summary>
    public static string? PartType(JsonElement part) =>
        part.ValueKind == JsonValueKind.Object && part.TryGetProperty("type", out var t)
            && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

    /// <summary>
    /// tokenizer.json (Hugging Face's fast-tokenizer file) when it describes GPT-2's tokenizer: a byte-level BPE
    /// (model.type "BPE", a ByteLevel pre-tokenizer with GPT-2's regex and no prefix space, no normalizer), whose
    /// model.vocab and model.merges ("left right" strings, or [left, right] pairs in newer files) are what
    /// vocab.json and merges.txt hold, and whose added_tokens marked special are the special tokens. Any other
    /// tokenizer is refused by what differs, since encoding it as GPT-2's would give wrong ids.
    /// </summary>
    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges,
                   List<string> Special) ReadBpeTokenizerJson(JsonElement root, string path)
    {
        Exception NotGpt2(string what) =>
            new Gpt2OnnxException($"{path}: {what}, so it is not GPT-2's byte-level BPE tokenizer or BERT's " +
                                  "WordPiece, the kinds read from tokenizer.json: write vocab.json + merges.txt or " +
                                  "vocab.txt instead");
        var model = root.GetProperty("model");
        if (PartType(model) is { } type && type != "BPE") throw NotGpt2($"its model is {type}");
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw NotGpt2($"it normalizes text ({PartType(normalizer)})");
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || PartType(pre) != "ByteLevel")
            throw NotGpt2("its pre-tokenizer is not ByteLevel");
        if (pre.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True)
            throw NotGpt2("it adds a prefix space");
        if (pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False)
            throw NotGpt2("its pre-tokenizer does not split with GPT-2's pattern");

        var vocab = ModelVocab(model, path);
        var merges = new List<(string, string)>();
        if (model.TryGetProperty("merges", out var mergesJson) && mergesJson.ValueKind == JsonValueKind.Array)
            foreach (var merge in mergesJson.EnumerateArray())
            {
                string[]? parts = merge.ValueKind switch
                {
                    JsonValueKind.String => merge.GetString()!.Split(' '),
                    JsonValueKind.Array when merge.GetArrayLength() == 2
                        && merge.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String)
                        => merge.EnumerateArray().Select(p => p.GetString()!).ToArray(),
                    _ => null,
                };
                if (parts is not [{ Length: > 0 } left, { Length: > 0 } right])
                    throw new Gpt2OnnxException($"{path}: merge {merges.Count + 1} is {merge.GetRawText()}, not two " +
                                                "symbols: the file is damaged");
                merges.Add((left, right));
            }
        else throw new Gpt2OnnxException($"{path}: model.merges is missing or not a list: the file is damaged");

        return (vocab, merges, [.. AddedTokens(root).Where(t => t.Special).Select(t => t.Content)]);
    }

    /// <summary>
    /// A setting that is true, false, null or absent (null for the last two); anything else is one error,
    /// "<paramref name="what"/> is VALUE, not true, false or null: <paramref name="whatToDo"/>".
    /// </summary>
    private static bool? OptionalBool(JsonElement settings, string name, string what, string whatToDo) =>
        !settings.TryGetProperty(name, out var value) ? null : value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null => null,
            _ => throw new Gpt2OnnxException($"{what} is {value.GetRawText()}, not true, false or null: {whatToDo}"),
        };

    /// <summary>tokenizer.json's model.vocab (token → id), checked to be a non-empty object of integer ids.</summary>
    private static Dictionary<string, int> ModelVocab(JsonElement model, string path)
    {
        if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
            throw new Gpt2OnnxException($"{path}: model.vocab is missing or not an object of token → id: the file is " +
                                        "damaged");
        var vocab = new Dictionary<string, int>();
        foreach (var entry in vocabJson.EnumerateObject())
            vocab[entry.Name] = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int id)
                ? id
                : throw new Gpt2OnnxException($"{path}: the token '{entry.Name}' has no integer id: the file is " +
                                              "damaged");
        if (vocab.Count == 0) throw new Gpt2OnnxException($"{path}: the vocabulary is empty: the file is damaged");
        return vocab;
    }

    /// <summary>tokenizer.json's added_tokens: content, id, and whether it is special (unless it says it is
    /// not).</summary>
    private static IEnumerable<(string Content, int? Id, bool Special)> AddedTokens(JsonElement root)
    {
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) yield break;
        foreach (var token in added.EnumerateArray())
            if (token.ValueKind == JsonValueKind.Object && token.TryGetProperty("content", out var content)
                && content.ValueKind == JsonValueKind.String)
                yield return (content.GetString()!,
                              token.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.Number
                                  && id.TryGetInt32(out int value) ? value : null,
                              !(token.TryGetProperty("special", out var isSpecial)
                                && isSpecial.ValueKind == JsonValueKind.False));
    }

    /// <summary>
    /// tokenizer.json when it describes BERT's WordPiece, as transformers 5 saves a BertTokenizer (it writes no
    /// vocab.txt): a WordPiece model with "##" continuations and BERT's 100-character words, a BertNormalizer
    /// that cleans text, and the BertPreTokenizer. Returns the tokens in id order (the ids must be 0..N-1),
    /// the unknown token and the normalizer's settings. Anything else is refused by what differs.
    /// </summary>
    public static (List<string> Tokens, string UnknownToken, bool LowerCase, bool? StripAccents,
                   bool SplitCjk) ReadWordPieceTokenizerJson(JsonElement root, string path)
    {
        Exception NotBert(string what) =>
            new Gpt2OnnxException($"{path}: {what}, which this project's WordPiece does not implement: write the " +
                                  "tokenizer as BERT's (vocab.txt, or a BertNormalizer and BertPreTokenizer)");
        var model = root.GetProperty("model");
        if (model.TryGetProperty("continuing_subword_prefix", out var prefix) && prefix.ValueKind != JsonValueKind.Null
            && !(prefix.ValueKind == JsonValueKind.String && prefix.GetString() == WordPieceTokenizer.Continuation))
            throw NotBert($"its continuation prefix is {prefix.GetRawText()}, not " +
                          $"\"{WordPieceTokenizer.Continuation}\"");
        if (model.TryGetProperty("max_input_chars_per_word", out var longest) && longest.ValueKind != JsonValueKind.Null
            && !(longest.ValueKind == JsonValueKind.Number && longest.TryGetInt32(out int chars)
                 && chars == WordPieceTokenizer.MaxWordChars))
            throw NotBert($"its longest word is {longest.GetRawText()} characters, not BERT's " +
                          $"{WordPieceTokenizer.MaxWordChars}");
        string unknown = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String
            ? unk.GetString()! : "[UNK]";

        if (!root.TryGetProperty("normalizer", out var normalizer) || PartType(normalizer) != "BertNormalizer")
            throw NotBert("its normalizer is " +
                          $"{(normalizer.ValueKind == JsonValueKind.Object ? PartType(normalizer) : "none")}, not a " +
                          "BertNormalizer");
        bool? Flag(string name) => OptionalBool(normalizer, name, $"{path}: the normalizer's {name}",
                                                "the file is damaged");
        if (Flag("clean_text") == false) throw NotBert("its normalizer keeps control characters (clean_text false)");
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || PartType(pre) != "BertPreTokenizer")
            throw NotBert($"its pre-tokenizer is {(pre.ValueKind == JsonValueKind.Object ? PartType(pre) : "none")}, " +
                          "not the BertPreTokenizer");

        var vocab = ModelVocab(model, path);
        var tokens = new string?[vocab.Count];
        foreach (var (token, id) in vocab)
        {
            if (id < 0 || id >= tokens.Length || tokens[id] != null)
                throw new Gpt2OnnxException($"{path}: the token '{token}' has the id {id}, but the {tokens.Length} " +
                                            $"tokens must have the ids 0 to {tokens.Length - 1}, once each: the file " +
                                            "is damaged");
            tokens[id] = token;
        }
        foreach (var (content, id, _) in AddedTokens(root))
            if (id is not { } added || added >= tokens.Length || tokens[added] != content)
                throw NotBert($"the added token '{content}' (id {id?.ToString() ?? "none"}) is not in the WordPiece " +
                              "vocabulary under that id");
        return (tokens.Select(t => t!).ToList(), unknown, Flag("lowercase") ?? true, Flag("strip_accents"),
                Flag("handle_chinese_chars") ?? true);
    }

    /// <summary>Writes a UTF-8 text file (no BOM, "\n" line ends) atomically.</summary>
    public static void WriteTextAtomically(string path, Action<TextWriter> write) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16,
                                                leaveOpen: true) { NewLine = "\n" };
            write(writer);
        });

    /// <summary>A JSON file's bytes checked strictly (<see cref="JsonText.Check"/>) and parsed, so reading its values
    /// cannot fail later.</summary>
    private static JsonDocument ParseChecked(byte[] bytes)
    {
        var json = JsonText.WithoutByteOrderMark(bytes);
        JsonText.Check(json.Span);
        return JsonDocument.Parse(json);
    }

    /// <summary>A tokenizer file's bytes (<paramref name="what"/> names it in the error when it is missing), refused
    /// over <see cref="MaxFileBytes"/>.</summary>
    public static byte[] ReadCapped(string path, string what)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new Gpt2OnnxException($"{path} {MissingFile.Why(path)} ({what}): point to a tokenizer folder, or " +
                                        "run scripts/setup.sh for the GPT-2 one");
        string tooLarge = $"more than any real tokenizer file ({MaxFileBytes >> 20} MB): is it the right file?";
        if (info.Length > MaxFileBytes)
            throw new Gpt2OnnxException($"{path} is {info.Length >> 20} MB, {tooLarge}");
        return BoundedFile.ReadAllBytes(path, MaxFileBytes) ?? throw new Gpt2OnnxException($"{path} holds {tooLarge}");
    }
}

/// <summary>
/// The parts of tokenizer_config.json this project reads: special tokens, and BERT's text settings as the
/// file gives them (null where it does not; BertTokenizer's defaults are lower-case, strip_accents following
/// do_lower_case, and CJK split).
/// </summary>
public sealed record TokenizerConfig(string? EosToken, string? BosToken, string? UnkToken, string? PadToken,
                                     IReadOnlyList<string> AdditionalSpecialTokens, bool? DoLowerCase = null,
                                     bool? StripAccents = null, bool? TokenizeChineseChars = null)
{
    public IEnumerable<string> All =>
        new[] { EosToken, BosToken, UnkToken, PadToken }.Concat(AdditionalSpecialTokens)
            .Where(t => !string.IsNullOrEmpty(t)).Distinct()!;
}
