using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Runtime.Generation;
using Gpt2Onnx.Runtime.IO;

namespace Gpt2Onnx.Runtime.Batch;

/// <summary>What <c>gpt2-run batch</c> does.</summary>
public sealed record BatchJobOptions
{
    public required string Input { get; init; }
    public required string Output { get; init; }
    public int MaxBatch { get; init; } = 16;
    /// <summary>Tokens per sequence the cache holds (prompt and completion); 0 = what the longest row needs.</summary>
    public int MaxLength { get; init; }
    public int ShardIndex { get; init; }
    public int ShardCount { get; init; } = 1;
    /// <summary>Skip malformed rows (reported on stderr and counted) instead of stopping before any work.</summary>
    public bool SkipErrors { get; init; }
    public bool Continuous { get; init; } = true;
    public SamplingOptions Defaults { get; init; } = new();
}

/// <summary>How a batch job went.</summary>
public sealed record BatchJobSummary(int Rows, int Skipped, int Written, int Errors, long Tokens, double Seconds, bool Continuous)
{
    public double TokensPerSecond => Tokens / Math.Max(Seconds, 1e-9);
}

/// <summary>
/// A JSONL batch job: every row is checked before any work (duplicate ids, malformed rows, an unwritable
/// output); rows already in the output are skipped, so a job resumes where it stopped; a torn last line
/// from a crash is cut off and its row redone; each result is appended and flushed on its own, so nothing
/// is lost or written twice. <c>--shard i/N</c> picks a fixed subset by a hash of the id.
/// </summary>
public static class BatchJob
{
    public static BatchJobSummary Run(LanguageModel model, BatchJobOptions options, TextWriter log)
    {
        if (options.ShardCount < 1 || options.ShardIndex < 0 || options.ShardIndex >= options.ShardCount)
            throw new Gpt2OnnxException($"--shard {options.ShardIndex}/{options.ShardCount} is not a shard: use i/N with 0 ≤ i < N");
        var rows = ReadInput(options, log, out int malformed);
        using var output = OpenOutput(options.Output);
        var done = ResumeOutput(output, options.Output);
        var todo = rows.Where(r => r.InShard(options.ShardIndex, options.ShardCount) && !done.Contains(r.Key)).ToList();
        int skipped = rows.Count(r => r.InShard(options.ShardIndex, options.ShardCount)) - todo.Count;
        if (skipped > 0) log.WriteLine($"batch: {skipped} row(s) already in {options.Output}; resuming with {todo.Count}");

        using var engine = new BatchEngine(model, options.MaxBatch, options.MaxLength > 0 ? options.MaxLength : LongestNeed(model, todo));
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int written = 0, errors = malformed;
        foreach (var result in engine.Run(todo.Select(r => new BatchItem(r.Key, r.Request)), options.Continuous))
        {
            var row = todo[written];
            JsonObject json;
            if (result.Error != null)
            {
                errors++;
                log.WriteLine($"batch: line {row.Line} (id {row.Key}): {result.Error}");
                json = new JsonObject { ["id"] = row.IdJson.DeepClone(), ["error"] = result.Error, ["line"] = row.Line };
            }
            else
            {
                var r = result.Result!;
                json = new JsonObject
                {
                    ["id"] = row.IdJson.DeepClone(), ["completion"] = r.Text, ["tokens"] = r.TokenIds.Length,
                    ["finish_reason"] = r.FinishReason, ["seed"] = result.Seed, ["prompt_tokens"] = r.PromptIds.Length,
                };
            }
            output.Write(Encoding.UTF8.GetBytes(json.ToJsonString(JsonText.Readable) + "\n"));
            output.Flush(); // one row at a time: a crash loses at most the row being written
            written++;
            if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(2) || written == todo.Count)
            {
                lastReport = clock.Elapsed;
                double rate = engine.TokensGenerated / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                double eta = written == 0 ? 0 : clock.Elapsed.TotalSeconds / written * (todo.Count - written);
                log.WriteLine($"batch: {written}/{todo.Count} rows | {rate:F1} tokens/s | ETA {TimeSpan.FromSeconds(Math.Round(eta)):c}");
            }
        }
        return new BatchJobSummary(todo.Count, skipped, written, errors, engine.TokensGenerated, clock.Elapsed.TotalSeconds, options.Continuous && engine.Continuous);
    }

    /// <summary>The longest input line read: far more than a GPT-2 context of text, and a bound on what one row can allocate.</summary>
    public const int MaxLineChars = 1 << 20;

    /// <summary>
    /// The cache length the rows need: the longest prompt plus its new tokens (within the context), so the
    /// cache, allocated once for every slot, is no larger than the job uses. A row whose prompt cannot be
    /// encoded is left out here; the engine reports it.
    /// </summary>
    private static int LongestNeed(LanguageModel model, List<BatchRow> rows)
    {
        int longest = 2;
        foreach (var row in rows)
        {
            try
            {
                longest = Math.Max(longest, SequenceState.PromptIds(model, row.Request).Length + row.Request.Options.MaxNewTokens);
            }
            catch (Gpt2OnnxException)
            {
                // the engine reports this row's error when it reaches it
            }
        }
        return Math.Min(longest, model.ContextLength);
    }

    /// <summary>Reads and checks every input row before any work.</summary>
    private static List<BatchRow> ReadInput(BatchJobOptions options, TextWriter log, out int malformed)
    {
        if (!File.Exists(options.Input)) throw new Gpt2OnnxException($"{options.Input} does not exist: pass a JSONL file of {{\"id\", \"prompt\"}} rows");
        var rows = new List<BatchRow>();
        var lines = new Dictionary<string, int>();
        malformed = 0;
        foreach (var (number, text, problem) in BoundedLines.Read(options.Input, MaxLineChars))
        {
            if (text != null && string.IsNullOrWhiteSpace(text)) continue;
            BatchRow row;
            try
            {
                row = problem switch
                {
                    LineProblem.None => BatchRow.Parse(number, text!, options.Defaults),
                    LineProblem.TooLong => throw new Gpt2OnnxException($"line {number} is longer than {MaxLineChars:N0} characters, more than any prompt a model's context holds"),
                    _ => throw new Gpt2OnnxException($"line {number} is not valid UTF-8 (a file in another encoding, or damaged)"),
                };
            }
            catch (Gpt2OnnxException e)
            {
                if (!options.SkipErrors) throw new Gpt2OnnxException($"{options.Input}: {e.Message}; fix it, or pass --on-error skip");
                log.WriteLine($"batch: skipping {options.Input}: {e.Message}");
                malformed++;
                continue;
            }
            if (lines.TryGetValue(row.Key, out int first))
                throw new Gpt2OnnxException($"{options.Input}: the id {row.Key} appears on lines {first} and {number}: ids must be unique");
            lines[row.Key] = number;
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>
    /// The output, opened for this job alone: a second job on the same file (a restarted pod whose old copy
    /// still runs, a command given twice) is refused instead of writing rows twice.
    /// </summary>
    private static FileStream OpenOutput(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory != null && !Directory.Exists(directory))
            throw new Gpt2OnnxException($"cannot write {path}: the folder {directory} does not exist");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e.HResult is EWOULDBLOCK or SharingViolation)
        {
            throw new Gpt2OnnxException($"{path} is open in another process (another batch job writing it?): wait for that job to end, or choose another --output");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new Gpt2OnnxException($"cannot write {path} ({e.Message}): choose a writable --output");
        }
    }

    private const int EWOULDBLOCK = 11; // Linux: the lock is held elsewhere
    private const int SharingViolation = unchecked((int)0x80070020); // Windows

    /// <summary>
    /// The ids already written. A torn last line (a crash mid-write) is cut off so its row is redone; a
    /// complete line that cannot be read as a row is kept (it is not ours to delete) and its row redone.
    /// Reads line by line, so an output of any size resumes; leaves the stream at its end, for appending.
    /// </summary>
    private static HashSet<string> ResumeOutput(FileStream output, string path)
    {
        long complete = CompleteLinesLength(output);
        if (complete < output.Length) output.SetLength(complete);
        var done = new HashSet<string>();
        output.Position = 0;
        foreach (var (_, text, _) in BoundedLines.Read(output, path, MaxLineChars))
        {
            try
            {
                if (text != null && JsonNode.Parse(text)?["id"] is { } id) done.Add(id.ToJsonString());
            }
            catch (JsonException)
            {
                // kept as it is; its row is redone
            }
        }
        output.Seek(0, SeekOrigin.End);
        return done;
    }

    /// <summary>The length of the stream up to and including its last '\n' (0 when it has none), read backwards from the end.</summary>
    private static long CompleteLinesLength(FileStream stream)
    {
        var buffer = new byte[1 << 16];
        long end = stream.Length;
        while (end > 0)
        {
            int count = (int)Math.Min(buffer.Length, end);
            stream.Position = end - count;
            stream.ReadExactly(buffer, 0, count);
            int newline = Array.LastIndexOf(buffer, (byte)'\n', count - 1);
            if (newline >= 0) return end - count + newline + 1;
            end -= count;
        }
        return 0;
    }
}
