using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;

namespace Gpt2Onnx.Runtime.Batch;

/// <summary>
/// The output of a batch job, opened for this job alone and resumed: the ids already written are done, a
/// torn last line from a crash is cut off so its row is redone, and each new row is appended and flushed on
/// its own. Only a file of result rows is adopted: appending to any other file (a text file given as
/// --output by mistake) would cut its last line and mix results into it, so it is refused untouched.
/// </summary>
internal sealed class ResultsFile : IDisposable
{
    private FileStream _stream;

    /// <summary>The ids (as JSON text) already in the file.</summary>
    public HashSet<string> Done { get; } = [];

    private ResultsFile(FileStream stream) => _stream = stream;

    /// <summary>
    /// Opens <paramref name="path"/> (created when missing) and reads what it holds. Error rows count as done,
    /// unless their id is in <paramref name="retry"/>: those rows are taken out of the file (rewritten under a
    /// temporary name and renamed, so a crash keeps either file whole) and run again.
    /// </summary>
    public static ResultsFile Open(string path, IReadOnlySet<string>? retry)
    {
        // A rewrite killed before its rename left a NAME.tmp-PID beside the file: delete it.
        AtomicFile.RemoveAbandoned(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path));
        var file = new ResultsFile(OpenExclusive(path, FileMode.OpenOrCreate));
        try
        {
            file.Resume(path, retry);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Appends one row and flushes it: a crash loses at most the row being written.</summary>
    public void Append(JsonObject row)
    {
        _stream.Write(Encoding.UTF8.GetBytes(row.ToJsonString(JsonText.Readable) + "\n"));
        _stream.Flush();
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>How every row this job writes begins (its writer puts the id first, compact).</summary>
    private static readonly byte[] RowStart = "{\"id\":"u8.ToArray();

    private void Resume(string path, IReadOnlySet<string>? retry)
    {
        if (_stream.Length == 0) return; // a new file, or a device (/dev/null, /dev/full) that reads without end
        long complete = CompleteLinesLength(_stream);
        CheckTornLine(path, complete);
        var retried = new HashSet<int>();
        foreach (var (number, text, _) in CompleteLines(path, complete))
        {
            if (text == null || !IsResultRow(text, out string key, out bool error))
                throw NotResults(path, $"line {number} is not a result row");
            if (error && retry != null && retry.Contains(key)) retried.Add(number);
            else Done.Add(key);
        }
        if (retried.Count > 0) Rewrite(path, complete, retried);
        else if (complete < _stream.Length) _stream.SetLength(complete);
        _stream.Seek(0, SeekOrigin.End);
    }

    /// <summary>The lines in the first <paramref name="complete"/> bytes: a torn line after them is left out.</summary>
    private IEnumerable<BoundedLine> CompleteLines(string path, long complete)
    {
        bool torn = complete < _stream.Length; // then the last line read is the torn one
        _stream.Position = 0;
        BoundedLine? previous = null;
        foreach (var line in BoundedLines.Read(_stream, path, BatchJob.MaxLineChars))
        {
            if (previous is { } ready) yield return ready;
            previous = line;
        }
        if (previous is { } last && !torn) yield return last;
    }

    /// <summary>
    /// Refuses a last line without its '\n' that no row of ours starts as: cutting it would delete the end of
    /// somebody's file. A torn row of ours is the start of one, however short.
    /// </summary>
    private void CheckTornLine(string path, long complete)
    {
        long tornLength = _stream.Length - complete;
        if (tornLength == 0) return;
        var start = new byte[Math.Min(tornLength, RowStart.Length)];
        _stream.Position = complete;
        _stream.ReadExactly(start);
        if (!RowStart.AsSpan().StartsWith(start))
            throw NotResults(path, "its last line is not the start of a result row");
    }

    private static Gpt2OnnxException NotResults(string path, string why) =>
        new($"{path}: {why}, so it is not a batch job's results: choose another --output (the file is left as it is)");

    /// <summary>Whether <paramref name="text"/> is a row a batch job writes: an id and a completion or error.</summary>
    private static bool IsResultRow(string text, out string key, out bool error)
    {
        key = "";
        error = false;
        try
        {
            if (JsonText.Parse(Encoding.UTF8.GetBytes(text)) is not JsonObject row || row["id"] is not JsonValue id
                || id.GetValueKind() is not (JsonValueKind.String or JsonValueKind.Number))
                return false;
            key = id.ToJsonString();
            error = row["error"] is JsonValue e && e.GetValueKind() == JsonValueKind.String;
            return error || row["completion"] is JsonValue c && c.GetValueKind() == JsonValueKind.String;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Writes the file again without the given lines (and without a torn last line) under a temporary name, puts
    /// it in place, and holds it as this job's output from then on.
    /// </summary>
    private void Rewrite(string path, long complete, HashSet<int> dropped)
    {
        using (var copy = AtomicFile.Begin(path))
        {
            foreach (var (number, text, _) in CompleteLines(path, complete))
                if (!dropped.Contains(number)) copy.Stream.Write(Encoding.UTF8.GetBytes(text + "\n"));
            copy.Commit();
        }
        // The old file stays open (and locked) until the new one is: a second job that opens the new one first is
        // refused here, as it would be anywhere, and nothing is written twice.
        var replaced = OpenExclusive(path, FileMode.Open);
        _stream.Dispose();
        _stream = replaced;
    }

    /// <summary>
    /// The output, opened for this job alone: a second job on the same file (a restarted pod whose old copy
    /// still runs, a command given twice) is refused instead of writing rows twice.
    /// </summary>
    private static FileStream OpenExclusive(string path, FileMode mode)
    {
        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory != null && !Directory.Exists(directory))
            throw new Gpt2OnnxException($"cannot write {path}: the folder {directory} does not exist");
        if (Directory.Exists(path))
            throw new Gpt2OnnxException($"{path} is a folder: --output names the JSONL file to write");
        try
        {
            var stream = new FileStream(path, mode, FileAccess.ReadWrite, FileShare.None);
            if (!stream.CanSeek)
            {
                stream.Dispose();
                throw new Gpt2OnnxException($"{path} is a pipe or a socket, not a file: --output must be a file, " +
                                            "which a rerun resumes");
            }
            return stream;
        }
        catch (IOException e) when (ExclusiveLock.HeldElsewhere(e))
        {
            throw new Gpt2OnnxException($"{path} is open in another process (another batch job writing it?): " +
                                        "wait for that job to end, or choose another --output");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new Gpt2OnnxException($"cannot write {path} ({e.Message}): choose a writable --output");
        }
    }

    /// <summary>The length of the stream up to and including its last '\n' (0 when it has none).</summary>
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
