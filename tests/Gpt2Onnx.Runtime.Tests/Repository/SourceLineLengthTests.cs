namespace Gpt2Onnx.Runtime.Tests.Repository;

/// <summary>
/// The style rule every hand-written C# file keeps: no line over 120 characters. The ONNX and TensorFlow schemas
/// are generated into obj/ at build time, so every .cs file in the repository is hand-written.
/// </summary>
public sealed class SourceLineLengthTests
{
    private const int Limit = 120;

    private static readonly string[] Skipped = ["bin", "obj", ".deps", ".git", "node_modules", "out"];

    private static IEnumerable<string> SourceFiles(string directory)
    {
        foreach (string file in Directory.EnumerateFiles(directory, "*.cs")) yield return file;
        foreach (string child in Directory.EnumerateDirectories(directory))
            if (!Skipped.Contains(Path.GetFileName(child)))
                foreach (string file in SourceFiles(child)) yield return file;
    }

    /// <summary>Characters as a reader counts them: an emoji outside the Basic Multilingual Plane is one.</summary>
    private static int Characters(string line) => line.EnumerateRunes().Count();

    [Fact]
    public void No_hand_written_line_of_csharp_is_longer_than_120_characters()
    {
        var files = SourceFiles(RepositoryPaths.Root).ToList();
        Assert.True(files.Count > 100, $"found only {files.Count} C# files under {RepositoryPaths.Root}");
        var tooLong = files
            .SelectMany(file => File.ReadLines(file)
                .Select((line, i) => (file, number: i + 1, Length: Characters(line))))
            .Where(l => l.Length > Limit)
            .Select(l => $"{Path.GetRelativePath(RepositoryPaths.Root, l.file)}:{l.number} ({l.Length} characters)")
            .ToList();
        Assert.True(tooLong.Count == 0, $"{tooLong.Count} line(s) over {Limit}:\n" + string.Join("\n", tooLong));
    }
}
