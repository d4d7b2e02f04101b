namespace Gpt2Onnx.Runtime.Tests;

/// <summary>Where scripts/setup.sh put what the tests read: the GPT-2 tokenizer, the corpora, node modules.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string Gpt2Tokenizer => Require(Path.Combine(Root, "models", "gpt2-tokenizer"));
    public static string BrownCorpus => Require(Path.Combine(Root, ".deps", "data", "brown"));
    public static string TangPoems => Require(Path.Combine(Root, ".deps", "data", "tang-poems"));
    public static string NodeModules => Require(Path.Combine(Root, ".deps", "node", "node_modules"));

    private static string Require(string path) =>
        Directory.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run scripts/setup.sh");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Gpt2Onnx.sln")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (Gpt2Onnx.sln) above " + AppContext.BaseDirectory);
    }
}
