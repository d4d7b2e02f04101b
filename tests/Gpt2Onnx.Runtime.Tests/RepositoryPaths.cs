using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Runtime.Tests;

/// <summary>Where scripts/setup.sh put what the tests read: the GPT-2 tokenizer, the corpora, node modules.</summary>
internal static class RepositoryPaths
{
    public static string Root => RepositoryRoot.Path;

    public static string Gpt2Tokenizer => Require(Path.Combine(Root, "models", "gpt2-tokenizer"));
    public static string BrownCorpus => Require(Path.Combine(Root, ".deps", "data", "brown"));
    public static string TangPoems => Require(Path.Combine(Root, ".deps", "data", "tang-poems"));
    public static string NodeModules => Require(Path.Combine(Root, ".deps", "node", "node_modules"));

    private static string Require(string path) =>
        Directory.Exists(path) ? path : throw new InvalidOperationException($"{path} is missing: run scripts/setup.sh");
}
