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
    /// <summary>Where the input is read from when it is a stream copied to a temporary file first.</summary>
    internal string? Copy { get; init; }
    /// <summary>The input as messages name it.</summary>
    internal string InputName => Input == "-" ? "standard input" : Input;
    internal string ReadPath => Copy ?? Input;
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
        if (options.MaxLength < 0)
            throw new Gpt2OnnxException($"--max-length must be 0 (what the longest row needs) or more, not {options.MaxLength}");
        string? copy = CopyIfStream(options.Input);
        try
        {
            return RunChecked(model, options with { Copy = copy }, log);
        }
        finally
        {
            if (copy != null) File.Delete(copy);
        }
    }

    /// <summary>
    /// An input that cannot be read twice (standard input as "-", a pipe, /dev/stdin) copied to a temporary
    /// file: the job reads its input once to check every row before any work, and again to run them.
    /// </summary>
    private static string? CopyIfStream(string input)
    {
        Stream source;
        if (input == "-")
        {
            source = Console.OpenStandardInput();
        }
        else
        {
            if (!File.Exists(input)) return null; // the check of the rows says so
            var file = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (file.CanSeek)
            {
                file.Dispose();
                return null;
            }
            source = file;
        }
        string copy = Path.Combine(Path.GetTempPath(), $"gpt2-run-batch-input-{Environment.ProcessId}-{Guid.NewGuid():N}.jsonl");
        using (source)
        using (var target = new FileStream(copy, FileMode.CreateNew, FileAccess.Write))
            source.CopyTo(target);
        return copy;
    }

    private static BatchJobSummary RunChecked(LanguageModel model, BatchJobOptions options, TextWriter log)
    {
        var (shard, malformed) = CheckInput(model, options, log);
        using var output = OpenOutput(options.Output);
        var done = ResumeOutput(output, options.Output);
        var todo = shard.Where(r => !done.Contains(r.Key)).ToList();
        int skipped = shard.Count - todo.Count;
        if (skipped > 0) log.WriteLine($"batch: {skipped} row(s) already in {options.Output}; resuming with {todo.Count}");
        int longestNeed = Math.Min(model.ContextLength, todo.Select(r => r.Need).Append(2).Max());

        // The rows are read a second time, one at a time, as the engine takes them: a job of millions of rows
        // holds their ids, not their prompts. Outputs come back in input order, so the rows in flight form a queue.
        var inFlight = new Queue<BatchRow>();
        IEnumerable<BatchItem> Requests()
        {
            int next = 0;
            foreach (var row in ShardRows(options))
            {
                if (done.Contains(row.Key)) continue;
                if (next == todo.Count || todo[next].Key != row.Key) throw InputChanged(options, row.Line);
                next++;
                inFlight.Enqueue(row);
                yield return new BatchItem(row.Key, row.Request);
            }
            if (next < todo.Count) throw InputChanged(options, null);
        }

        // No more slots than rows to run: the cache is allocated once, for every slot.
        using var engine = new BatchEngine(model, Math.Min(options.MaxBatch, Math.Max(1, todo.Count)), options.MaxLength > 0 ? options.MaxLength : longestNeed);
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        int written = 0, errors = malformed;
        foreach (var result in engine.Run(Requests(), options.Continuous))
        {
            var row = inFlight.Dequeue();
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
    /// Checks every input row before any work (a malformed row stops the job, or is reported and counted
    /// with <c>--on-error skip</c>; an id given twice always stops it) and keeps, for the rows of this shard
    /// in input order, each id and the cache length it needs: its prompt plus its new tokens (a prompt that
    /// cannot be encoded needs nothing here; the engine reports it).
    /// </summary>
    private static (List<(string Key, int Need)> Shard, int Malformed) CheckInput(LanguageModel model, BatchJobOptions options, TextWriter log)
    {
        if (!File.Exists(options.ReadPath)) throw new Gpt2OnnxException($"{options.InputName} does not exist: pass a JSONL file of {{\"id\", \"prompt\"}} rows, or - for standard input");
        var shard = new List<(string, int)>();
        var lines = new Dictionary<string, int>();
        var otherKeys = new HashSet<string>();
        int malformed = 0;
        foreach (var (number, row, error) in ParseRows(options))
        {
            if (row == null)
            {
                if (!options.SkipErrors) throw new Gpt2OnnxException($"{options.InputName}: {error}; fix it, or pass --on-error skip");
                log.WriteLine($"batch: skipping {options.InputName}: {error}");
                malformed++;
                continue;
            }
            if (lines.TryGetValue(row.Key, out int first))
                throw new Gpt2OnnxException($"{options.InputName}: the id {row.Key} appears on lines {first} and {number}: ids must be unique");
            lines[row.Key] = number;
            foreach (string key in row.OtherKeys)
                if (otherKeys.Count < 100 && otherKeys.Add(key))
                    log.WriteLine($"batch: line {number} has '{key}', which is not an option and is left out of generation (the options: {string.Join(", ", BatchRow.OptionNames)})");
            if (!row.InShard(options.ShardIndex, options.ShardCount)) continue;
            int need = 2;
            try
            {
                if (options.MaxLength <= 0) need = SequenceState.PromptIds(model, row.Request).Length + row.Request.Options.MaxNewTokens; // else --max-length decides
            }
            catch (Gpt2OnnxException)
            {
                // the engine reports this row's error when it reaches it
            }
            shard.Add((row.Key, need));
        }
        return (shard, malformed);
    }

    /// <summary>The well-formed rows of this shard, read again one at a time (the first read reported the others).</summary>
    private static IEnumerable<BatchRow> ShardRows(BatchJobOptions options) =>
        ParseRows(options).Select(r => r.Row).OfType<BatchRow>().Where(row => row.InShard(options.ShardIndex, options.ShardCount));

    /// <summary>Each non-blank input line as a row, or the reason it is not one.</summary>
    private static IEnumerable<(int Line, BatchRow? Row, string? Error)> ParseRows(BatchJobOptions options)
    {
        foreach (var (number, text, problem) in BoundedLines.Read(options.ReadPath, MaxLineChars))
        {
            if (text != null && string.IsNullOrWhiteSpace(text)) continue;
            string? error = problem switch
            {
                LineProblem.TooLong => $"line {number} is longer than {MaxLineChars:N0} characters, more than any prompt a model's context holds",
                LineProblem.NotUtf8 => $"line {number} is not valid UTF-8 (a file in another encoding, or damaged)",
                _ => null,
            };
            BatchRow? row = null;
            if (error == null)
            {
                try
                {
                    row = BatchRow.Parse(number, text!, options.Defaults);
                }
                catch (Gpt2OnnxException e)
                {
                    error = e.Message;
                }
            }
            yield return (number, row, error);
        }
    }

    private static Gpt2OnnxException InputChanged(BatchJobOptions options, int? line) =>
        new($"{options.InputName} changed while the job ran{(line == null ? "" : $" (line {line})")}: run the job again; the rows already written are kept");

    /// <summary>
    /// The output, opened for this job alone: a second job on the same file (a restarted pod whose old copy
    /// still runs, a command given twice) is refused instead of writing rows twice.
    /// </summary>
    private static FileStream OpenOutput(string path)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory != null && !Directory.Exists(directory))
            throw new Gpt2OnnxException($"cannot write {path}: the folder {directory} does not exist");
        if (Directory.Exists(path))
            throw new Gpt2OnnxException($"{path} is a folder: --output names the JSONL file to write");
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            if (!stream.CanSeek)
            {
                stream.Dispose();
                throw new Gpt2OnnxException($"{path} is a pipe or a socket, not a file: --output must be a file, which a rerun resumes");
            }
            return stream;
        }
        catch (IOException e) when (ExclusiveLock.HeldElsewhere(e))
        {
            throw new Gpt2OnnxException($"{path} is open in another process (another batch job writing it?): wait for that job to end, or choose another --output");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new Gpt2OnnxException($"cannot write {path} ({e.Message}): choose a writable --output");
        }
    }

    /// <summary>
    /// The ids already written. A torn last line (a crash mid-write) is cut off so its row is redone; a
    /// complete line that cannot be read as a row is kept (it is not ours to delete) and its row redone.
    /// Reads line by line, so an output of any size resumes; leaves the stream at its end, for appending.
    /// </summary>
    private static HashSet<string> ResumeOutput(FileStream output, string path)
    {
        var done = new HashSet<string>();
        if (output.Length == 0) return done; // a new file, or a device (/dev/null, /dev/full) that reads without end
        long complete = CompleteLinesLength(output);
        if (complete < output.Length) output.SetLength(complete);
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
