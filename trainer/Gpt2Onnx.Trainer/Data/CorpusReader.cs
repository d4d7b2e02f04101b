using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>A stretch of a document's text; the last one of each document ends it.</summary>
public readonly record struct CorpusPiece(string Text, bool EndsDocument);

/// <summary>How a corpus file is read into documents.</summary>
public enum CorpusFormat
{
    /// <summary>By extension: .jsonl → Jsonl, .json → Poetry, anything else → Text.</summary>
    Auto,
    /// <summary>The whole file is one document.</summary>
    Text,
    /// <summary>One JSON object per line; its text field is one document.</summary>
    Jsonl,
    /// <summary>chinese-poetry JSON: an array of {title, author, paragraphs}; each poem's paragraphs, one per line, are
    /// one document.</summary>
    Poetry,
    /// <summary>The Brown corpus's tagged files: "word/tag" tokens; the tags are removed, the whole file is one
    /// document.</summary>
    Brown,
}

/// <summary>
/// Turns the paths a user gives (files, folders searched recursively, globs such as data/*.txt) into
/// documents, in a fixed order (paths sorted ordinally), so preparing the same corpus twice gives the same shards.
/// </summary>
public static class CorpusReader
{
    public static List<string> ExpandPaths(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (File.Exists(input))
            {
                files.Add(Path.GetFullPath(input));
            }
            else if (Directory.Exists(input))
            {
                files.AddRange(Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal));
            }
            else if (input.IndexOfAny(['*', '?']) >= 0)
            {
                string directory = Path.GetDirectoryName(input) is { Length: > 0 } d ? d : ".";
                if (directory.IndexOfAny(['*', '?']) >= 0)
                    throw new Gpt2OnnxException($"'{input}': wildcards are supported in the file name only, not in " +
                                                "folder names");
                var matches = Directory.Exists(directory)
                    ? Directory.EnumerateFiles(directory, Path.GetFileName(input)).Order(StringComparer.Ordinal)
                        .ToList()
                    : [];
                if (matches.Count == 0) throw new Gpt2OnnxException($"'{input}' matches no file: check the pattern");
                files.AddRange(matches.Select(Path.GetFullPath));
            }
            else
            {
                throw new Gpt2OnnxException($"'{input}' is neither a file, a folder nor a pattern that matches " +
                                            "files: check the path");
            }
        }
        if (files.Count == 0) throw new Gpt2OnnxException("no input files: pass text, JSONL or chinese-poetry JSON " +
                                                          "files, folders, or patterns");
        return files.Distinct().ToList();
    }

    /// <summary>
    /// The text of one file as pieces, in order; the last piece of each document has EndsDocument set. A
    /// document longer than <see cref="PieceChars"/> comes in several pieces, so no text is held whole (a text
    /// file may be larger than any string) and long documents tokenize in parallel.
    /// </summary>
    public static IEnumerable<CorpusPiece> ReadPieces(string path, CorpusFormat format = CorpusFormat.Auto,
                                                      string textField = "text")
    {
        if (format == CorpusFormat.Auto)
            format = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".jsonl" => CorpusFormat.Jsonl,
                ".json" => CorpusFormat.Poetry,
                _ => CorpusFormat.Text,
            };
        return format switch
        {
            CorpusFormat.Text => Split(TextChunks(path), PieceChars, path),
            CorpusFormat.Brown => Split(TextChunks(path), PieceChars, path)
                .Select(p => p with { Text = StripBrownTags(p.Text) }),
            CorpusFormat.Jsonl => ReadJsonl(path, textField)
                .SelectMany(document => Split([document], PieceChars, path)),
            CorpusFormat.Poetry => ReadPoetry(path).Select(poem => new CorpusPiece(poem, EndsDocument: true)),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    /// <summary>About how long a piece of a document is, in characters.</summary>
    public const int PieceChars = 1 << 20;

    /// <summary>The longest JSONL line read, and the longest stretch of text without a place to cut it (256 Mi
    /// characters).</summary>
    public const int MaxUncutChars = 1 << 28;

    private static readonly Regex BrownTag = new(@"(\S)/[^\s/]+(?=\s|$)", RegexOptions.Compiled);

    /// <summary>"The/at jury/nn said/vbd" → "The jury said".</summary>
    public static string StripBrownTags(string tagged) => BrownTag.Replace(tagged, "$1");

    /// <summary>
    /// One document's text (given in <paramref name="chunks"/>, cut anywhere) as pieces of at least
    /// <paramref name="pieceChars"/> characters (but the last), each cut where no tokenizer of this project
    /// joins the text on either side into one token: before a space that precedes a character that is not
    /// whitespace, or after a line break that stands alone between two such characters. GPT-2's pre-tokenizer
    /// starts a token there whatever comes before (a token takes at most one leading space, a run of
    /// whitespace leaves its last space to the word after it, and nothing takes a line break in front of a
    /// word), and WordPiece splits at whitespace, so the pieces' ids, joined, are the whole text's ids.
    /// </summary>
    public static IEnumerable<CorpusPiece> Split(IEnumerable<string> chunks, int pieceChars,
                                                 string source = "a document")
    {
        var pending = new StringBuilder();
        int searched = pieceChars; // where the search for the next cut resumes: none lies between pieceChars and here
        foreach (var chunk in chunks)
        {
            pending.Append(chunk);
            while (pending.Length > searched + 1)
            {
                int cut = FindCut(pending, searched, pending.Length - 1);
                if (cut < 0)
                {
                    searched = pending.Length - 1;
                    if (pending.Length > MaxUncutChars)
                        throw new Gpt2OnnxException($"{source}: a stretch of over {MaxUncutChars:N0} characters has " +
                                                    "no space or line break between words: is it text?");
                    break;
                }
                yield return new CorpusPiece(pending.ToString(0, cut), EndsDocument: false);
                pending.Remove(0, cut);
                searched = pieceChars;
            }
        }
        yield return new CorpusPiece(pending.ToString(), EndsDocument: true);
    }

    /// <summary>The first index in [<paramref name="from"/>, <paramref name="to"/>) to cut <paramref name="text"/>
    /// before, or -1.</summary>
    private static int FindCut(StringBuilder text, int from, int to)
    {
        for (int k = Math.Max(from, 2); k < to; k++)
        {
            char c = text[k];
            if (c == ' ' && !char.IsWhiteSpace(text[k + 1])) return k;
            if (text[k - 1] == '\n' && !char.IsWhiteSpace(c) && !char.IsWhiteSpace(text[k - 2])) return k;
        }
        return -1;
    }

    /// <summary>
    /// A text file's characters in chunks (UTF-8, or UTF-16/32 with a byte-order mark), never held whole. Bytes
    /// that are not text in the file's encoding (an unpaired UTF-16 surrogate, say) and NUL characters (binary
    /// data, or a device such as /dev/zero) are errors, not replacement characters.
    /// </summary>
    private static IEnumerable<string> TextChunks(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        var bytes = new byte[1 << 16];
        int filled = stream.ReadAtLeast(bytes, 4, throwOnEndOfStream: false); // a pipe may give less at a time
        var (encoding, name, start) = StrictEncodingOf(bytes.AsSpan(0, filled));
        var decoder = encoding.GetDecoder();
        var chars = new char[encoding.GetMaxCharCount(bytes.Length)];
        while (true)
        {
            bool end = filled == 0;
            int count;
            try
            {
                count = decoder.GetChars(bytes, start, filled - start, chars, 0, flush: end);
            }
            catch (DecoderFallbackException)
            {
                string remedy = name == "UTF-8" ? "convert it to UTF-8 first" : "fix it, or convert it to UTF-8";
                throw new Gpt2OnnxException($"{path} is not {name} text (bytes that are not characters in it): " +
                                            remedy);
            }
            if (chars.AsSpan(0, count).Contains('\0'))
                throw new Gpt2OnnxException($"{path} holds a NUL character, which no text holds: it is binary data " +
                                            "or a device such as /dev/zero; pass text files");
            if (count > 0) yield return new string(chars, 0, count);
            if (end) yield break;
            start = 0;
            filled = stream.Read(bytes, 0, bytes.Length);
        }
    }

    /// <summary>
    /// The encoding the byte-order mark at the start of <paramref name="start"/> names (UTF-8 without one), and the
    /// mark's length. Strict: it throws on bytes that are not text, where .NET's own readers put U+FFFD.
    /// </summary>
    private static (Encoding Encoding, string Name, int MarkLength) StrictEncodingOf(ReadOnlySpan<byte> start) =>
        start switch
        {
            [0xFF, 0xFE, 0, 0, ..] => (new UTF32Encoding(false, false, throwOnInvalidCharacters: true), "UTF-32", 4),
            [0, 0, 0xFE, 0xFF, ..] => (new UTF32Encoding(true, false, throwOnInvalidCharacters: true), "UTF-32", 4),
            [0xEF, 0xBB, 0xBF, ..] => (new UTF8Encoding(false, throwOnInvalidBytes: true), "UTF-8", 3),
            [0xFF, 0xFE, ..] => (new UnicodeEncoding(false, false, throwOnInvalidBytes: true), "UTF-16", 2),
            [0xFE, 0xFF, ..] => (new UnicodeEncoding(true, false, throwOnInvalidBytes: true), "UTF-16", 2),
            _ => (new UTF8Encoding(false, throwOnInvalidBytes: true), "UTF-8", 0),
        };

    private static IEnumerable<string> ReadJsonl(string path, string field)
    {
        foreach (var (line, text, problem) in BoundedLines.Read(path, MaxUncutChars))
        {
            if (problem == LineProblem.TooLong)
                throw new Gpt2OnnxException($"{path}:{line}: longer than {MaxUncutChars:N0} characters: split the " +
                                            "document");
            if (problem == LineProblem.NotUtf8)
                throw new Gpt2OnnxException($"{path}:{line}: not UTF-8 text: convert the file to UTF-8 first");
            if (string.IsNullOrWhiteSpace(text)) continue;
            string? document;
            try
            {
                document = JsonText.Parse(Encoding.UTF8.GetBytes(text)) is JsonObject row
                    && row[field] is JsonValue value
                           && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;
            }
            catch (JsonException e)
            {
                throw new Gpt2OnnxException($"{path}:{line}: not valid JSON ({JsonText.Describe(e)}): fix the line");
            }
            if (document == null) throw new Gpt2OnnxException($"{path}:{line}: no string field '{field}': pass " +
                                                              "--text-field with the right name");
            yield return document;
        }
    }

    private static IEnumerable<string> ReadPoetry(string path)
    {
        var bytes = BoundedFile.ReadAllBytes(path, MaxUncutChars)
                    ?? throw new Gpt2OnnxException($"{path} is over {MaxUncutChars / (1 << 20)} MB, more than a " +
                                                   "chinese-poetry file: split it, or pass --format jsonl for JSON " +
                                                   "lines");
        JsonDocument json;
        try
        {
            var utf8 = JsonText.WithoutByteOrderMark(bytes);
            JsonText.Check(utf8.Span);
            json = JsonDocument.Parse(utf8);
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): is it a chinese-poetry " +
                                        "file?");
        }
        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Array)
                throw new Gpt2OnnxException($"{path}: expected an array of poems ({{title, author, paragraphs}}): is " +
                                            "it a chinese-poetry file?");
            var poems = new List<string>();
            foreach (var poem in json.RootElement.EnumerateArray())
            {
                if (poem.ValueKind != JsonValueKind.Object || !poem.TryGetProperty("paragraphs", out var paragraphs)
                    || paragraphs.ValueKind != JsonValueKind.Array)
                    throw new Gpt2OnnxException($"{path}: a poem without a 'paragraphs' array: is it a " +
                                                "chinese-poetry file?");
                if (paragraphs.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.String))
                    throw new Gpt2OnnxException($"{path}: a poem's 'paragraphs' holds something other than strings: " +
                                                "is it a chinese-poetry file?");
                var text = string.Join("\n", paragraphs.EnumerateArray().Select(p => p.GetString()));
                if (text.Length > 0) poems.Add(text);
            }
            return poems;
        }
    }
}
