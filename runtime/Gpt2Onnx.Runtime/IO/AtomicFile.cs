namespace Gpt2Onnx.Runtime.IO;

/// <summary>Files that appear complete or not at all: written under a temporary name, flushed to disk, renamed.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        string temporary = path + ".tmp-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }

    /// <summary>
    /// Deletes the temporaries (<c>NAME.tmp-PID</c>, files or folders) in <paramref name="directory"/> that a
    /// writer killed mid-write left behind, so a crash costs no disk space for good: only those of a process
    /// that no longer runs, and only those of <paramref name="name"/> when it is given.
    /// </summary>
    public static void RemoveAbandoned(string directory, string? name = null)
    {
        if (!Directory.Exists(directory)) return;
        foreach (var entry in Directory.EnumerateFileSystemEntries(directory, (name ?? "*") + ".tmp-*"))
        {
            string suffix = entry[(entry.LastIndexOf(".tmp-", StringComparison.Ordinal) + 5)..];
            if (!int.TryParse(suffix, out int pid) || pid == Environment.ProcessId || IsRunning(pid)) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true);
            else File.Delete(entry);
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public static void WriteAllText(string path, string text) =>
        Write(path, stream => stream.Write(new System.Text.UTF8Encoding(false).GetBytes(text)));
}
