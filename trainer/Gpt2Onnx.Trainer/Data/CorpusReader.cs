using Gpt2Onnx.Runtime.IO;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gpt2Onnx.Runtime;

namespace Gpt2Onnx.Trainer.Data;

/// <summary>How a corpus file is read into documents.</summary>
public enum CorpusFormat
{
    /// <summary>By extension: .jsonl → Jsonl, .json → Poetry, anything else → Text.</summary>
    Auto,
    /// <summary>The whole file is one document.</summary>
    Text,
    /// <summary>One JSON object per line; its text field is one document.</summary>
    Jsonl,
    /// <summary>chinese-poetry JSON: an array of {title, author, paragraphs}; each poem's paragraphs, one per line, are one document.</summary>
    Poetry,
    /// <summary>The Brown corpus's tagged files: "word/tag" tokens; the tags are removed, the whole file is one document.</summary>
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
                    throw new Gpt2OnnxException($"'{input}': wildcards are supported in the file name only, not in folder names");
                var matches = Directory.Exists(directory)
                    ? Directory.EnumerateFiles(directory, Path.GetFileName(input)).Order(StringComparer.Ordinal).ToList()
                    : [];
                if (matches.Count == 0) throw new Gpt2OnnxException($"'{input}' matches no file: check the pattern");
                files.AddRange(matches.Select(Path.GetFullPath));
            }
            else
            {
                throw new Gpt2OnnxException($"'{input}' is neither a file, a folder nor a pattern that matches files: check the path");
            }
        }
        if (files.Count == 0) throw new Gpt2OnnxException("no input files: pass text, JSONL or chinese-poetry JSON files, folders, or patterns");
        return files.Distinct().ToList();
    }

    /// <summary>The documents of one file.</summary>
    public static IEnumerable<string> ReadDocuments(string path, CorpusFormat format = CorpusFormat.Auto, string textField = "text")
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
            CorpusFormat.Text => [ReadText(path)],
            CorpusFormat.Brown => [StripBrownTags(ReadText(path))],
            CorpusFormat.Jsonl => ReadJsonl(path, textField),
            CorpusFormat.Poetry => ReadPoetry(path),
            _ => throw new ArgumentOutOfRangeException(nameof(format)),
        };
    }

    private static readonly Regex BrownTag = new(@"(\S)/[^\s/]+(?=\s|$)", RegexOptions.Compiled);

    /// <summary>"The/at jury/nn said/vbd" → "The jury said".</summary>
    public static string StripBrownTags(string tagged) => BrownTag.Replace(tagged, "$1");

    private static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path, new UTF8Encoding(false, throwOnInvalidBytes: true));
        }
        catch (DecoderFallbackException)
        {
            throw new Gpt2OnnxException($"{path} is not UTF-8 text: convert it to UTF-8 first");
        }
    }

    private static IEnumerable<string> ReadJsonl(string path, string field)
    {
        int line = 0;
        foreach (var text in File.ReadLines(path, Encoding.UTF8))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            string? document;
            try
            {
                using var json = JsonDocument.Parse(text);
                document = json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(field, out var value)
                           && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new Gpt2OnnxException($"{path}:{line}: not valid JSON ({JsonText.Describe(e)}): fix the line");
            }
            if (document == null) throw new Gpt2OnnxException($"{path}:{line}: no string field '{field}': pass --text-field with the right name");
            yield return document;
        }
    }

    private static IEnumerable<string> ReadPoetry(string path)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new Gpt2OnnxException($"{path}: not valid JSON ({JsonText.Describe(e)}): is it a chinese-poetry file?");
        }
        using (json)
        {
            if (json.RootElement.ValueKind != JsonValueKind.Array)
                throw new Gpt2OnnxException($"{path}: expected an array of poems ({{title, author, paragraphs}}): is it a chinese-poetry file?");
            var poems = new List<string>();
            foreach (var poem in json.RootElement.EnumerateArray())
            {
                if (poem.ValueKind != JsonValueKind.Object || !poem.TryGetProperty("paragraphs", out var paragraphs) || paragraphs.ValueKind != JsonValueKind.Array)
                    throw new Gpt2OnnxException($"{path}: a poem without a 'paragraphs' array: is it a chinese-poetry file?");
                var text = string.Join("\n", paragraphs.EnumerateArray().Select(p => p.GetString() ?? ""));
                if (text.Length > 0) poems.Add(text);
            }
            return poems;
        }
    }
}
