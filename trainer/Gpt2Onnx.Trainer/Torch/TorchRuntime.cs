using System.Reflection;
using System.Runtime.InteropServices;
using Gpt2Onnx.Core;
using TorchSharp;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// Loads libtorch and TorchSharp's native library from one place before TorchSharp's first call, and answers
/// what they are. The build copies no native file (see Gpt2Onnx.Trainer.csproj): libtorch comes from NuGet's
/// cache, or from GPT2ONNX_LIBTORCH (the lib folder of another libtorch 2.10, a CUDA build say);
/// libLibTorchSharp.so from the copy scripts/setup.sh patched where the system's libstdc++ is too old for it
/// (Debian 12), else from its package. Each is loaded by full path, so TorchSharp's own load by name finds
/// them already loaded (by their sonames) and never copies libtorch next to the program. Loading also sets the heap
/// libtorch's CPU tensors come from (<see cref="TensorHeap"/>).
/// </summary>
public static class TorchRuntime
{
    /// <summary>The environment variable that names another libtorch's lib folder.</summary>
    public const string LibTorchVariable = "GPT2ONNX_LIBTORCH";

    private static readonly Lazy<string> Loaded = new(LoadNatives, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Runs when this assembly loads, before any code of it can touch TorchSharp, whose first use loads its native
    /// library by name: the libraries must be loaded by then. Should they not load, TorchSharp's fallback would copy
    /// all of libtorch next to the program and fail anyway; it is pointed at an empty package folder instead, and
    /// <see cref="Load"/> reports the reason.
    /// </summary>
    [System.Runtime.CompilerServices.ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255",
        Justification = "the native libraries must load before TorchSharp's type initializer")]
    internal static void LoadFirst()
    {
        try
        {
            Load();
        }
        catch (Gpt2OnnxException)
        {
            string empty = Path.Combine(Path.GetTempPath(), "gpt2onnx-no-torch-copies");
            Environment.SetEnvironmentVariable("NUGET_PACKAGES", empty);
        }
    }

    /// <summary>
    /// Loads the native libraries once; later calls return at once. Throws one clear error if they cannot load.
    /// </summary>
    public static void Load() => _ = Loaded.Value;

    /// <summary>The libtorch folder in use.</summary>
    public static string LibTorchFolder => Loaded.Value;

    /// <summary>The libLibTorchSharp.so in use.</summary>
    public static string TorchSharpLibrary => ChooseTorchSharpLibrary();

    /// <summary>libtorch's version as TorchSharp states it ("2.10.0.0").</summary>
    public static string Version
    {
        get
        {
            Load();
            return torch.__version__;
        }
    }

    /// <summary>libtorch's intra-op threads (torch.set_num_threads).</summary>
    public static int Threads
    {
        get
        {
            Load();
            return torch.get_num_threads();
        }
        set
        {
            if (value <= 0) throw new Gpt2OnnxException($"--threads must be positive, not {value}");
            Load();
            torch.set_num_threads(value);
        }
    }

    private static string Metadata(string key) =>
        typeof(TorchRuntime).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"the trainer was built without its {key}");

    private static string ChooseTorchSharpLibrary()
    {
        const string name = "libLibTorchSharp.so";
        string original = Path.Combine(Metadata("TorchSharpNativeFolder"), name);
        // setup.sh records which library it patched, so a copy made for another TorchSharp is never used.
        string patched = Metadata("PatchedTorchSharpFolder");
        string source = Path.Combine(patched, "patched-from");
        bool ours = File.Exists(source) && File.ReadAllText(source).Trim() == original;
        return ours ? Path.Combine(patched, name) : original;
    }

    private static string LoadNatives()
    {
        bool linuxX64 = RuntimeInformation.IsOSPlatform(OSPlatform.Linux)
            && RuntimeInformation.ProcessArchitecture == Architecture.X64;
        if (!linuxX64)
            throw new Gpt2OnnxException("the trainer's libtorch is built for Linux x64: train on such a machine");
        string? chosen = Environment.GetEnvironmentVariable(LibTorchVariable);
        string folder = string.IsNullOrEmpty(chosen) ? Metadata("LibTorchFolder") : chosen;
        string fix = string.IsNullOrEmpty(chosen)
            ? "run scripts/setup.sh (it restores the packages)"
            : $"point {LibTorchVariable} at a libtorch 2.10 lib folder";
        if (!File.Exists(Path.Combine(folder, "libtorch_cpu.so")))
            throw new Gpt2OnnxException($"no libtorch in {folder} (libtorch_cpu.so is missing): {fix}");
        // Dependencies first: each names the next by soname only.
        string[] libraries = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];
        foreach (var library in libraries)
        {
            string path = Path.Combine(folder, library);
            if (File.Exists(path)) LoadOrExplain(path, fix);
        }
        LoadOrExplain(ChooseTorchSharpLibrary(),
            "run scripts/setup.sh, which patches a copy of it where this system's libstdc++ is too old");
        TensorHeap.KeepFreedMemory();
        return folder;
    }

    private static void LoadOrExplain(string path, string fix)
    {
        try
        {
            NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            // The loader's own reason (a missing GLIBCXX version, say) is the useful part of the message.
            var lines = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            string reason = lines.FirstOrDefault(l => l.Contains("version") || l.Contains("cannot open")) ?? lines[0];
            throw new Gpt2OnnxException($"{path} does not load ({reason.Trim()}): {fix}");
        }
    }
}
