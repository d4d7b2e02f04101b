using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

// libtorch's default random generator and its thread count are process-wide: a test that seeds it, draws
// from it (dropout, randn) or sets threads would disturb another running at the same time (the exact-resume
// test compares losses bit for bit). These tests therefore run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace Gpt2Onnx.Trainer.Tests;

internal static class LoadTorchFirst
{
    /// <summary>
    /// Tests call TorchSharp directly, and the first test to run may do so before any trainer type has loaded
    /// libtorch (Torch/TorchRuntime.cs); TorchSharp would then fall back to copying libtorch next to the tests.
    /// </summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255",
        Justification = "the native libraries must load before TorchSharp's type initializer")]
    internal static void Load() => Torch.TorchRuntime.LoadFirst();
}
