using Gpt2Onnx.Core;
using Microsoft.Win32.SafeHandles;

namespace Gpt2Onnx.Runtime.Batch;

/// <summary>
/// A batch job's input that can be read only once (standard input as "-", a pipe, a device), copied to a
/// temporary file: the job reads its rows twice, once to check them all before any work and again to run
/// them. The copy's name is removed as soon as the file is made, so however the job ends (Ctrl-C, a crash,
/// kill -9) no file is left behind: the open handle keeps the data until the process lets it go. The copy
/// is bounded: at most half the space that was free where it is written, and it stops at the first sign
/// that the input is not JSONL text (a NUL byte, as in /dev/zero or any binary file) or, when malformed
/// rows stop the job, at the first line longer than any row.
/// </summary>
internal sealed class InputSpool : IDisposable
{
    private readonly SafeFileHandle _copy;

    private InputSpool(SafeFileHandle copy) => _copy = copy;

    /// <summary>The copy of <paramref name="input"/>, or null when it is a file, which can be read again.</summary>
    public static InputSpool? CopyIfStream(string input, string inputName, bool stopAtLongLine)
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
        using (source)
        {
            string folder = Path.GetTempPath();
            long limit = new DriveInfo(folder).AvailableFreeSpace / 2;
            string name = $"gpt2-run-batch-input-{Environment.ProcessId}-{Guid.NewGuid():N}.jsonl";
            var spool = new InputSpool(CreateUnnamed(Path.Combine(folder, name)));
            try
            {
                spool.CopyFrom(source, inputName, limit, stopAtLongLine);
                return spool;
            }
            catch
            {
                spool.Dispose();
                throw;
            }
        }
    }

    /// <summary>A new reader of the copy, from its start (the caller disposes it; the copy stays).</summary>
    public Stream OpenRead()
    {
        var borrowed = new SafeFileHandle(_copy.DangerousGetHandle(), ownsHandle: false);
        return new FileStream(borrowed, FileAccess.Read, 1 << 16) { Position = 0 };
    }

    public void Dispose() => _copy.Dispose();

    /// <summary>
    /// A file opened for reading and writing whose name is gone at once (on Windows, which cannot remove an open
    /// file's name, it goes when the handle closes, as the system does for a killed process too).
    /// </summary>
    private static SafeFileHandle CreateUnnamed(string path)
    {
        var handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
                                     OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None);
        if (!OperatingSystem.IsWindows()) File.Delete(path);
        return handle;
    }

    private void CopyFrom(Stream source, string name, long limit, bool stopAtLongLine)
    {
        var buffer = new byte[1 << 16];
        long written = 0, lineBytes = 0;
        int line = 1;
        int read;
        while ((read = source.Read(buffer, 0, buffer.Length)) > 0)
        {
            var chunk = buffer.AsSpan(0, read);
            if (chunk.IndexOf((byte)0) is int nul and >= 0)
                throw new Gpt2OnnxException($"{name} holds a NUL byte (byte {written + nul + 1:N0}), which no " +
                                            "JSONL text holds: it is binary data or a device such as /dev/zero; " +
                                            "pass JSONL rows");
            for (int start = 0; start < read;)
            {
                int newline = chunk[start..].IndexOf((byte)'\n');
                int end = newline < 0 ? read : start + newline;
                lineBytes += end - start;
                if (stopAtLongLine && lineBytes > BatchJob.MaxLineBytes)
                    throw new Gpt2OnnxException($"{name}: {BatchJob.LineTooLong(line)}; fix it, or pass --on-error " +
                                                "skip");
                if (newline < 0) break;
                line++;
                lineBytes = 0;
                start = end + 1;
            }
            if (written + read > limit)
                throw new Gpt2OnnxException($"{name} holds over {limit:N0} bytes, half the free space of " +
                                            $"{Path.GetTempPath()}, where it is copied to be read twice: pass " +
                                            "the rows as a file with --input, or point TMPDIR to a larger disk");
            RandomAccess.Write(_copy, chunk, written);
            written += read;
        }
    }
}
