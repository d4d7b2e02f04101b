[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Gpt2Onnx.GenAI.Tests;

/// <summary>
/// The tests that load GenAI run one at a time (GenAI's process-wide state is shared), on one set of exports per
/// collection.
/// </summary>
[CollectionDefinition(Name)]
public sealed class GenAiCollection : ICollectionFixture<TinyExports>
{
    public const string Name = "onnxruntime-genai";
}
