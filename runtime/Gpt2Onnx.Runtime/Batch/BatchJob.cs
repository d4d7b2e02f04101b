using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Sampling;
using Gpt2Onnx.Runtime.Generation;

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
    /// <summary>Run again the rows the output holds as errors (without it they count as done, as any row).</summary>
    public bool RetryErrors { get; init; }
    public SamplingOptions Defaults { get; init; } = new();
    /// <summary>The input's copy when it is a stream, which can be read only once.</summary>
    internal InputSpool? Spool { get; init; }
    /// <summary>The input as messages name it.</summary>
    internal string InputName => Input == "-" ? "standard input" : Input;
}

/// <summary>How a batch job went.</summary>
public sealed record BatchJobSummary(int Rows, int Skipped, int Written, int Errors, long Tokens, double Seconds,
                                     bool Continuous)
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
            throw new Gpt2OnnxException($"--shard {options.ShardIndex}/{options.ShardCount} is not a shard: use i/N " +
                                        "with 0 ≤ i < N");
        if (options.MaxLength < 0)
            throw new Gpt2OnnxException("--max-length must be 0 (what the longest row needs) or more, not " +
                                        $"{options.MaxLength}");
        if (File.Exists(options.Input)) PathOverlap.Refuse(options.Output, "--output", options.Input, "--input");
        using var spool = InputSpool.CopyIfStream(options.Input, options.InputName, !options.SkipErrors);
        return RunChecked(model, options with { Spool = spool }, log);
    }

    private static BatchJobSummary RunChecked(LanguageModel model, BatchJobOptions options, TextWriter log)
    {
        var (shard, malformed) = CheckInput(model, options, log);
        var retry = options.RetryErrors ? shard.Select(r => r.Key).ToHashSet() : null;
        using var output = ResultsFile.Open(options.Output, retry);
        var done = output.Done;
        var todo = shard.Where(r => !done.Contains(r.Key)).ToList();
        int skipped = shard.Count - todo.Count;
        if (skipped > 0) log.WriteLine($"batch: {skipped} row(s) already in {options.Output}; resuming with " +
                                       $"{todo.Count}");
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
        using var engine = new BatchEngine(model, Math.Min(options.MaxBatch, Math.Max(1, todo.Count)),
                                           options.MaxLength > 0 ? options.MaxLength : longestNeed);
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
                json = new JsonObject { ["id"] = row.IdJson.DeepClone(), ["error"] = result.Error,
                                        ["line"] = row.Line };
            }
            else
            {
                var r = result.Result!;
                json = new JsonObject
                {
                    ["id"] = row.IdJson.DeepClone(), ["completion"] = r.Text, ["tokens"] = r.TokenIds.Length,
                    ["finish_reason"] = r.FinishReason, ["seed"] = result.Seed, ["prompt_tokens"] = r.PromptIds.Length,
                };
                if (r.Sequences is { Count: > 1 } sequences)
                    json["sequences"] = BeamRowOptions.SequencesJson(sequences);
            }
            output.Append(json);
            written++;
            if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(2) || written == todo.Count)
            {
                lastReport = clock.Elapsed;
                double rate = engine.TokensGenerated / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                double eta = written == 0 ? 0 : clock.Elapsed.TotalSeconds / written * (todo.Count - written);
                log.WriteLine($"batch: {written}/{todo.Count} rows | {rate:F1} tokens/s | ETA " +
                              $"{TimeSpan.FromSeconds(Math.Round(eta)):c}");
            }
        }
        return new BatchJobSummary(todo.Count, skipped, written, errors, engine.TokensGenerated,
                                   clock.Elapsed.TotalSeconds, options.Continuous && engine.Continuous);
    }

    /// <summary>The longest input line read: far more than a GPT-2 context of text, and a bound on what one row can
    /// allocate.</summary>
    public const int MaxLineChars = 1 << 20;

    /// <summary>The most bytes a line of <see cref="MaxLineChars"/> characters takes in UTF-8.</summary>
    internal const int MaxLineBytes = 4 * MaxLineChars;

    internal static string LineTooLong(int line) =>
        $"line {line} is longer than {MaxLineChars:N0} characters, more than any prompt a model's context holds";

    /// <summary>
    /// Checks every input row before any work (a malformed row stops the job, or is reported and counted
    /// with <c>--on-error skip</c>; an id given twice always stops it) and keeps, for the rows of this shard
    /// in input order, each id and the cache length it needs: its prompt plus its new tokens (a prompt that
    /// cannot be encoded needs nothing here; the engine reports it).
    /// </summary>
    private static (List<(string Key, int Need)> Shard, int Malformed) CheckInput(LanguageModel model,
        BatchJobOptions options, TextWriter log)
    {
        if (options.Spool == null && !File.Exists(options.Input))
            throw new Gpt2OnnxException($"{options.InputName} " +
                                        $"{(Directory.Exists(options.Input) ? "is a folder" : "does not exist")}: " +
                                        "pass a JSONL file of {\"id\", \"prompt\"} rows, or - for standard input");
        var shard = new List<(string, int)>();
        var lines = new Dictionary<string, int>();
        var otherKeys = new HashSet<string>();
        int malformed = 0;
        foreach (var (number, row, error) in ParseRows(options))
        {
            if (row == null)
            {
                if (!options.SkipErrors) throw new Gpt2OnnxException($"{options.InputName}: {error}; fix it, or pass " +
                                                                     "--on-error skip");
                log.WriteLine($"batch: skipping {options.InputName}: {error}");
                malformed++;
                continue;
            }
            if (lines.TryGetValue(row.Key, out int first))
                throw new Gpt2OnnxException($"{options.InputName}: the id {row.Key} appears on lines {first} and " +
                                            $"{number}: ids must be unique");
            lines[row.Key] = number;
            foreach (string key in row.OtherKeys)
                if (otherKeys.Count < 100 && otherKeys.Add(key))
                    log.WriteLine($"batch: line {number} has '{key}', which is not an option and is left out of " +
                                  $"generation (the options: {string.Join(", ", BatchRow.OptionNames)})");
            if (!row.InShard(options.ShardIndex, options.ShardCount)) continue;
            int need = 2;
            try
            {
                if (options.MaxLength <= 0) // else --max-length decides
                    need = SequenceState.PromptIds(model, row.Request).Length + row.Request.Options.MaxNewTokens;
            }
            catch (Gpt2OnnxException)
            {
                // the engine reports this row's error when it reaches it
            }
            shard.Add((row.Key, need));
        }
        return (shard, malformed);
    }

    /// <summary>The well-formed rows of this shard, read again one at a time (the first read reported the
    /// others).</summary>
    private static IEnumerable<BatchRow> ShardRows(BatchJobOptions options) =>
        ParseRows(options).Select(r => r.Row).OfType<BatchRow>()
            .Where(row => row.InShard(options.ShardIndex, options.ShardCount));

    /// <summary>Each non-blank input line as a row, or the reason it is not one.</summary>
    private static IEnumerable<(int Line, BatchRow? Row, string? Error)> ParseRows(BatchJobOptions options)
    {
        using var stream = options.Spool?.OpenRead()
                           ?? new FileStream(options.Input, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        foreach (var (number, text, problem) in BoundedLines.Read(stream, options.InputName, MaxLineChars))
        {
            if (text != null && string.IsNullOrWhiteSpace(text)) continue;
            string? error = problem switch
            {
                LineProblem.TooLong => LineTooLong(number),
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
        new($"{options.InputName} changed while the job ran{(line == null ? "" : $" (line {line})")}: run the job " +
            "again; the rows already written are kept");
}
