namespace Gpt2Onnx.Core.IO;

/// <summary>
/// An advisory lock on a file, held by one process at a time for as long as it lives: a second process that
/// asks for it is refused at once (no waiting), as two jobs writing one output must not run together. The
/// file itself stays (deleting a lock file races with the next process that opens it).
/// </summary>
public sealed class ExclusiveLock : IDisposable
{
    private readonly FileStream _file;

    private ExclusiveLock(FileStream file) => _file = file;

    /// <summary>The lock on <paramref name="path"/> (created when missing), or null when another process holds
    /// it.</summary>
    public static ExclusiveLock? TryAcquire(string path)
    {
        try
        {
            return new ExclusiveLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException e) when (HeldElsewhere(e))
        {
            return null;
        }
    }

    /// <summary>Whether opening a file failed because another process holds it (FileShare.None is flock on
    /// Linux).</summary>
    public static bool HeldElsewhere(IOException e) => e.HResult is EWOULDBLOCK or SharingViolation;

    private const int EWOULDBLOCK = 11; // Linux: the lock is held elsewhere
    private const int SharingViolation = unchecked((int)0x80070020); // Windows

    public void Dispose() => _file.Dispose();
}
