using Gpt2Onnx.TestSupport;

namespace Gpt2Onnx.Serving.Tests;

/// <summary>
/// The tiny models the server tests run, exported once for the whole test class: a fused and a portable graph with
/// a 64-token context, and a fused one with a long context, for requests that must still be running when a test acts.
/// </summary>
public sealed class ServedModels : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory().FullName;

    public ServedModels()
    {
        (_, Portable, Fused) = TinyModel.Export(Path.Combine(_dir, "short"));
        // Wider and deeper too, so that its 4,000 tokens take tens of seconds, not a few: a client that leaves after
        // the first chunk must find its request still running on a fast or a loaded machine. The tests that hold it
        // cancel it, so its length costs only the export.
        (_, _, LongContext) = TinyModel.Export(Path.Combine(_dir, "long"), positions: 4096, embd: 768, layers: 4);
    }

    public string Fused { get; }
    public string Portable { get; }
    public string LongContext { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
