using System.Text;
using System.Text.Json;
using Gpt2Onnx.Runtime.IO;

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
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new Gpt2OnnxException($"{path}: expected a JSON object of token → id: is this a vocab.json?");
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string token = reader.GetString()!;
                if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id))
                    throw new Gpt2OnnxException($"{path}: the token '{token}' has no integer id: the file is damaged; reinstall or regenerate it");
                vocab.Add(token, id); // a token given twice is caught by the check
            }
            if (reader.TokenType != JsonTokenType.EndObject)
                throw new Gpt2OnnxException($"{path}: the JSON object is not closed (the file is truncated): reinstall or regenerate it");
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): the file is truncated or damaged; reinstall or regenerate it");
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
                    throw new Gpt2OnnxException($"{path}:{i + 1}: an empty line among the merges: the file is damaged; reinstall or regenerate it");
                continue;
            }
            var parts = line.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                throw new Gpt2OnnxException($"{path}:{i + 1}: expected two symbols separated by one space, found '{line}': the file is damaged; reinstall or regenerate it");
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
                throw new Gpt2OnnxException($"{path}:{i + 1}: an empty token: the file is damaged; reinstall or regenerate it");
            if (!seen.Add(tokens[i]))
                throw new Gpt2OnnxException($"{path}:{i + 1}: the token '{tokens[i]}' appears twice: the file is damaged; reinstall or regenerate it");
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
                    _ => throw new Gpt2OnnxException($"{path}: '{name}' must be a string or an object with 'content': fix the file"),
                } : null;
            var additional = new List<string>();
            if (root.TryGetProperty("additional_special_tokens", out var list) && list.ValueKind == JsonValueKind.Array)
                additional.AddRange(list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Object ? e.GetProperty("content").GetString()! : e.GetString()!));
            bool? Flag(string name) =>
                !root.TryGetProperty(name, out var value) ? null : value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Null => null,
                    _ => throw new Gpt2OnnxException($"{path}: '{name}' is {value.GetRawText()}, not true, false or null: fix the file"),
                };
            return new TokenizerConfig(Token("eos_token"), Token("bos_token"), Token("unk_token"), Token("pad_token"), additional,
                                       Flag("do_lower_case") ?? true, Flag("strip_accents"), Flag("tokenize_chinese_chars") ?? true);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new Gpt2OnnxException($"{path}: not a valid tokenizer configuration ({JsonText.Describe(e)}): fix or delete the file");
        }
    }

    /// <summary>
    /// tokenizer.json (Hugging Face's fast-tokenizer file) when it describes GPT-2's tokenizer: a byte-level BPE
    /// (model.type "BPE", a ByteLevel pre-tokenizer with GPT-2's regex and no prefix space, no normalizer), whose
    /// model.vocab and model.merges ("left right" strings, or [left, right] pairs in newer files) are what
    /// vocab.json and merges.txt hold, and whose added_tokens marked special are the special tokens. Any other
    /// tokenizer is refused by what differs, since encoding it as GPT-2's would give wrong ids.
    /// </summary>
    public static (Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges, List<string> Special) ReadTokenizerJson(string path)
    {
        byte[] bytes = ReadCapped(path, "the fast-tokenizer file");
        try
        {
            using var document = ParseChecked(bytes);
            var root = document.RootElement;
            Exception NotGpt2(string what) => new Gpt2OnnxException($"{path}: {what}, so it is not GPT-2's byte-level BPE tokenizer, the only kind read from tokenizer.json: write vocab.json + merges.txt or vocab.txt instead");
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new Gpt2OnnxException($"{path}: no \"model\" object: is this a tokenizer.json?");
            string? Type(JsonElement e) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (Type(model) is { } type && type != "BPE") throw NotGpt2($"its model is {type}");
            if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null) throw NotGpt2($"it normalizes text ({Type(normalizer)})");
            if (!root.TryGetProperty("pre_tokenizer", out var pre) || Type(pre) != "ByteLevel") throw NotGpt2("its pre-tokenizer is not ByteLevel");
            if (pre.TryGetProperty("add_prefix_space", out var prefix) && prefix.ValueKind == JsonValueKind.True) throw NotGpt2("it adds a prefix space");
            if (pre.TryGetProperty("use_regex", out var regex) && regex.ValueKind == JsonValueKind.False) throw NotGpt2("its pre-tokenizer does not split with GPT-2's pattern");

            if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
                throw new Gpt2OnnxException($"{path}: model.vocab is missing or not an object of token → id: the file is damaged");
            var vocab = new Dictionary<string, int>();
            foreach (var entry in vocabJson.EnumerateObject())
                vocab[entry.Name] = entry.Value.ValueKind == JsonValueKind.Number && entry.Value.TryGetInt32(out int id) ? id
                    : throw new Gpt2OnnxException($"{path}: the token '{entry.Name}' has no integer id: the file is damaged");
            if (vocab.Count == 0) throw new Gpt2OnnxException($"{path}: the vocabulary is empty: the file is damaged");

            var merges = new List<(string, string)>();
            if (model.TryGetProperty("merges", out var mergesJson) && mergesJson.ValueKind == JsonValueKind.Array)
                foreach (var merge in mergesJson.EnumerateArray())
                {
                    string[]? parts = merge.ValueKind switch
                    {
                        JsonValueKind.String => merge.GetString()!.Split(' '),
                        JsonValueKind.Array when merge.GetArrayLength() == 2 && merge.EnumerateArray().All(p => p.ValueKind == JsonValueKind.String)
                            => merge.EnumerateArray().Select(p => p.GetString()!).ToArray(),
                        _ => null,
                    };
                    if (parts is not [{ Length: > 0 } left, { Length: > 0 } right])
                        throw new Gpt2OnnxException($"{path}: merge {merges.Count + 1} is {merge.GetRawText()}, not two symbols: the file is damaged");
                    merges.Add((left, right));
                }
            else throw new Gpt2OnnxException($"{path}: model.merges is missing or not a list: the file is damaged");

            var special = new List<string>();
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var token in added.EnumerateArray())
                    if (token.ValueKind == JsonValueKind.Object && token.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String
                        && !(token.TryGetProperty("special", out var isSpecial) && isSpecial.ValueKind == JsonValueKind.False))
                        special.Add(content.GetString()!);
            return (vocab, merges, special);
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): the file is truncated or damaged; write it again");
        }
    }

    /// <summary>Writes a UTF-8 text file (no BOM, "\n" line ends) atomically.</summary>
    public static void WriteTextAtomically(string path, Action<TextWriter> write) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            write(writer);
        });

    /// <summary>A JSON file's bytes checked strictly (<see cref="JsonText.Check"/>) and parsed, so reading its values cannot fail later.</summary>
    private static JsonDocument ParseChecked(byte[] bytes)
    {
        var json = JsonText.WithoutByteOrderMark(bytes);
        JsonText.Check(json.Span);
        return JsonDocument.Parse(json);
    }

    /// <summary>A tokenizer file's bytes (<paramref name="what"/> names it in the error when it is missing), refused over <see cref="MaxFileBytes"/>.</summary>
    public static byte[] ReadCapped(string path, string what)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new Gpt2OnnxException($"{path} is missing ({what}): point to a tokenizer folder, or run scripts/setup.sh for the GPT-2 one");
        string tooLarge = $"more than any real tokenizer file ({MaxFileBytes >> 20} MB): is it the right file?";
        if (info.Length > MaxFileBytes)
            throw new Gpt2OnnxException($"{path} is {info.Length >> 20} MB, {tooLarge}");
        return BoundedFile.ReadAllBytes(path, MaxFileBytes) ?? throw new Gpt2OnnxException($"{path} holds {tooLarge}");
    }
}

/// <summary>
/// The parts of tokenizer_config.json this project reads: special tokens, and BERT's text settings with
/// Hugging Face's BertTokenizer defaults (lower-case; strip_accents null follows do_lower_case; CJK split).
/// </summary>
public sealed record TokenizerConfig(string? EosToken, string? BosToken, string? UnkToken, string? PadToken,
                                     IReadOnlyList<string> AdditionalSpecialTokens, bool DoLowerCase = true,
                                     bool? StripAccents = null, bool TokenizeChineseChars = true)
{
    public IEnumerable<string> All =>
        new[] { EosToken, BosToken, UnkToken, PadToken }.Concat(AdditionalSpecialTokens)
            .Where(t => !string.IsNullOrEmpty(t)).Distinct()!;
}
