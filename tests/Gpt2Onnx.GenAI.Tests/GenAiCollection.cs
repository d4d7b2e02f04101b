using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]
[assembly: TestCollectionOrderer("Gpt2Onnx.GenAI.Tests.CollectionsByName", "Gpt2Onnx.GenAI.Tests")]

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// The tests that load GenAI run one at a time (GenAI's process-wide state is shared), on one set of exports per
/// collection; the collection named <see cref="Last"/> runs after this one (<see cref="CollectionsByName"/>).
/// </summary>
[CollectionDefinition(Name)]
public sealed class GenAiCollection : ICollectionFixture<TinyExports>
{
    public const string Name = "onnxruntime-genai";
    public const string Last = Name + ", last";
}

[CollectionDefinition(GenAiCollection.Last)]
public sealed class LastGenAiCollection : ICollectionFixture<TinyExports>;

/// <summary>Runs the test collections in the ordinal order of their names.</summary>
public sealed class CollectionsByName : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName, StringComparer.Ordinal);
}
