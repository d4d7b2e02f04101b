namespace Gpt2Onnx.Core.IO;

/// <summary>Files that appear complete or not at all: written under a temporary name, flushed to disk,
/// renamed.</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        using var file = Begin(path);
        write(file.Stream);
        file.Commit();
    }

    /// <summary>Starts writing <paramref name="path"/> under a temporary name, for writers that keep several files
    /// open.</summary>
    public static PendingFile Begin(string path) => new(path);

    /// <summary>A file being written under a temporary name: <see cref="Commit"/> puts it in place; disposing it
    /// uncommitted deletes it.</summary>
    public sealed class PendingFile : IDisposable
    {
        private readonly string _path, _temporary;
        private readonly FileStream _stream;

        internal PendingFile(string path)
        {
            _path = path;
            _temporary = path + ".tmp-" + Environment.ProcessId;
            // readable: a writer may revise what it wrote
            _stream = new FileStream(_temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 20);
        }

        public Stream Stream => _stream;

        /// <summary>Flushes the file to disk and renames it over <c>path</c>.</summary>
        public void Commit()
        {
            _stream.Flush(flushToDisk: true);
            _stream.Dispose();
            File.Move(_temporary, _path, overwrite: true);
        }

        public void Dispose()
        {
            _stream.Dispose();
            if (File.Exists(_temporary)) File.Delete(_temporary);
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
