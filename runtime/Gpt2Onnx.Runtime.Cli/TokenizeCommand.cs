using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Gpt2Onnx.Cli;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Runtime.Tokenizers;

namespace Gpt2Onnx.Runtime.Cli;

/// <summary>
/// <c>gpt2-run tokenize</c>: text to ids (one line of space-separated ids per input file), or ids back to
/// text with --decode; --json reports the speed instead of the ids.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerDir = new Option<string>("--tokenizer") { Description = "tokenizer folder (vocab.json + " +
                                                                             "merges.txt, or vocab.txt)", Required =
                                                                                 true };
        var input = new Option<string[]>("--input") { Description = "text files, each one document (ids with --decode)",
                                                      AllowMultipleArgumentsPerToken = true };
        var text = new Option<string?>("--text") { Description = "a string to encode (ids with --decode)" };
        var decode = new Option<bool>("--decode") { Description = "turn space-separated ids back into text" };
        var allowSpecial = new Option<bool>("--allow-special") { Description = "read special-token text such as " +
                                                                               "<|endoftext|> as the special token" };
        var threads = ThreadsOption.Create("threads that encode documents", 1, zeroIsEveryCore: true);
        var json = new Option<bool>("--json") { Description = "print {tokens, seconds, mb_per_s} instead of the ids" };
        var repeat = new Option<int>("--repeat") { Description = "encode this many times, each with a freshly loaded " +
                                                                 "tokenizer, and report the fastest (for benchmarks)",
                                                                 DefaultValueFactory = _ => 1 };
        var command = new Command("tokenize", "encode text to token ids, or decode ids to text")
        {
            tokenizerDir, input, text, decode, allowSpecial, threads, json, repeat,
        };
        command.SetAction(parsed =>
        {
            bool hasInput = (parsed.GetValue(input)?.Length ?? 0) > 0;
            CliHost.Require(hasInput != (parsed.GetValue(text) != null), "give either --input FILE... or --text TEXT");
            CliHost.Require(parsed.GetValue(repeat) >= 1, "--repeat must be 1 or more");
            string tokenizerPath = parsed.GetValue(tokenizerDir)!;
            var tokenizer = Tokenizer.Load(tokenizerPath);
            var files = parsed.GetValue(input) ?? [];
            var documents = parsed.GetValue(text) is { } literal ? [literal] : files.Select(ReadDocument).ToList();
            if (parsed.GetValue(decode))
                return Decode(tokenizer, documents);
            return Encode(() => Tokenizer.Load(tokenizerPath), tokenizer, documents, parsed.GetValue(allowSpecial),
                          parsed.GetValue(threads), parsed.GetValue(json),
                          parsed.GetValue(repeat));
        });
        return command;
    }

    private static string ReadDocument(string path) =>
        TextFile.Read(path, 512L << 20, "split it, or tokenize a corpus into shards with 'gpt2-train prepare'");

    /// <param name="fresh">a new tokenizer for each repeat, so every timed run starts with an empty cache</param>
    private static int Encode(Func<ITokenizer> fresh, ITokenizer tokenizer, List<string> documents, bool allowSpecial,
                              int threads, bool json, int repeat)
    {
        long bytes = documents.Sum(d => (long)Encoding.UTF8.GetByteCount(d));
        int[][] ids = [];
        double seconds = double.MaxValue;
        for (int run = 0; run < repeat; run++)
        {
            if (run > 0) tokenizer = fresh();
            var clock = Stopwatch.StartNew();
            ids = allowSpecial
                ? documents.Select(d => tokenizer.Encode(d, allowSpecialTokens: true)).ToArray()
                : threads == 1 ? documents.Select(d => tokenizer.Encode(d)).ToArray()
                : ParallelEncoder.EncodeAll(tokenizer, documents, threads);
            seconds = Math.Min(seconds, clock.Elapsed.TotalSeconds);
        }
        if (json)
        {
            long tokens = ids.Sum(i => (long)i.Length);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                tokens,
                seconds,
                mb_per_s = bytes / 1e6 / Math.Max(seconds, 1e-9),
                bytes,
                documents = documents.Count,
                threads = threads == 0 ? Environment.ProcessorCount : threads,
            }));
            return 0;
        }
        using var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
        foreach (var line in ids) output.WriteLine(string.Join(' ', line));
        return 0;
    }

    private static int Decode(ITokenizer tokenizer, List<string> documents)
    {
        using var output = Console.OpenStandardOutput();
        foreach (var document in documents)
        {
            var ids = new List<int>();
            foreach (var field in document.Split([' ', '\n', '\r', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
            {
                if (!int.TryParse(field, out int id))
                    throw new Gpt2OnnxException($"'{field}' is not a token id: --decode reads integers separated by " +
                                                "spaces");
                ids.Add(id);
            }
            // Byte-level BPE decodes to exact bytes, even where they are not valid UTF-8.
            byte[] bytes = tokenizer is BpeTokenizer bpe
                ? bpe.DecodeBytes(ids.ToArray()) : Encoding.UTF8.GetBytes(tokenizer.Decode(ids.ToArray()));
            output.Write(bytes);
            if (documents.Count > 1) output.WriteByte((byte)'\n');
        }
        return 0;
    }
}
