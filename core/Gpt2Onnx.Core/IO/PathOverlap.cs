namespace Gpt2Onnx.Core.IO;

/// <summary>
/// Whether a tool's output would land on one of its inputs: the same place, a folder that holds the input
/// (replacing it deletes the input), or a place inside the input. Links are followed, so two names of one
/// folder compare equal; a tool checks this before any work and refuses with one line.
/// </summary>
public static class PathOverlap
{
    /// <summary>
    /// Throws when <paramref name="output"/> (given as <paramref name="outputOption"/>) is, holds or lies inside
    /// <paramref name="input"/> (given as <paramref name="inputOption"/>).
    /// </summary>
    public static void Refuse(string output, string outputOption, string input, string inputOption)
    {
        string writes = Resolve(output), reads = Resolve(input);
        if (writes == reads)
            throw new Gpt2OnnxException($"{outputOption} {output} is the {inputOption} {input} itself: writing there " +
                                        $"would replace what is read; choose another {outputOption}");
        if (IsInside(reads, writes))
            throw new Gpt2OnnxException($"{outputOption} {output} holds the {inputOption} {input}: writing there " +
                                        $"could replace or delete it; choose an {outputOption} outside it");
        if (IsInside(writes, reads))
            throw new Gpt2OnnxException($"{outputOption} {output} is inside the {inputOption} {input}: writing there " +
                                        $"changes what is read; choose an {outputOption} outside it");
    }

    /// <summary>Whether <paramref name="path"/> lies inside <paramref name="folder"/> (both resolved).</summary>
    private static bool IsInside(string path, string folder) =>
        path.StartsWith(Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar,
                        StringComparison.Ordinal);

    /// <summary>
    /// The absolute path with every link among its existing parts resolved (a part that does not exist yet is
    /// kept as written), so that two names of one file or folder give the same string.
    /// </summary>
    public static string Resolve(string path) => Resolve(path, depth: 0);

    /// <summary>Links are followed this deep at most, the kernel's limit (ELOOP): a cycle ends unresolved.</summary>
    private const int MaxLinkDepth = 40;

    private static string Resolve(string path, int depth)
    {
        string full = Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar);
        string root = Path.GetPathRoot(full)!;
        string resolved = root;
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < parts.Length; i++)
        {
            string next = Path.Combine(resolved, parts[i]);
            FileSystemInfo entry = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            try
            {
                if (depth < MaxLinkDepth && entry.LinkTarget != null
                    && entry.ResolveLinkTarget(returnFinalTarget: true) is { } target)
                    next = Resolve(target.FullName, depth + 1); // a link to a path that itself holds links
            }
            catch (IOException)
            {
                // a link loop: the path stays as written, and whatever opens it reports the loop
            }
            resolved = next;
        }
        return resolved.Length > root.Length ? resolved.TrimEnd(Path.DirectorySeparatorChar) : resolved;
    }
}
