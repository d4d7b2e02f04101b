using System.Reflection;
using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// Finds one native library the same way for every caller: an explicit path from an environment
/// variable, then beside the app, then in the repository's <c>.deps</c> folder that scripts/setup.sh
/// fills, then the system's search path. Each library registers one resolver built from this.
/// </summary>
public sealed class NativeLibraryLocator
{
    private readonly string _importName;
    private readonly string _fileName;
    private readonly string _environmentVariable;
    private readonly string _depsRelativePath;
    private readonly string _whatToDo;
    private readonly Lazy<IntPtr> _handle;

    /// <param name="importName">the name used in [DllImport]</param>
    /// <param name="fileName">the file to look for, for example libonnxruntime.so.1</param>
    /// <param name="environmentVariable">a variable that may name the file's full path</param>
    /// <param name="depsRelativePath">the file's path under the repository root, for example .deps/native/libgpt2onnx_torch.so</param>
    /// <param name="whatToDo">the end of the error message when nothing is found</param>
    public NativeLibraryLocator(string importName, string fileName, string environmentVariable,
                                string depsRelativePath, string whatToDo)
    {
        _importName = importName;
        _fileName = fileName;
        _environmentVariable = environmentVariable;
        _depsRelativePath = depsRelativePath;
        _whatToDo = whatToDo;
        _handle = new Lazy<IntPtr>(Load, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The loaded library; throws <see cref="Gpt2OnnxException"/> when it cannot be found or loaded.</summary>
    public IntPtr Handle => _handle.Value;

    /// <summary>The path (or bare name, for a system library) the library was loaded from; loads it if needed.</summary>
    public string LoadedFrom
    {
        get
        {
            _ = Handle;
            return _loadedFrom!;
        }
    }

    private string? _loadedFrom;

    /// <summary>Routes this library's [DllImport]s in <paramref name="assembly"/> through the locator.</summary>
    public void Register(Assembly assembly) =>
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name == _importName ? Handle : IntPtr.Zero);

    /// <summary>The paths tried, in order; the last entry is a bare name for the system search.</summary>
    public IReadOnlyList<string> Candidates()
    {
        var candidates = new List<string>();
        var fromEnvironment = Environment.GetEnvironmentVariable(_environmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            candidates.Add(fromEnvironment);
            return candidates; // an explicit choice is never silently replaced by another copy
        }
        candidates.Add(Path.Combine(AppContext.BaseDirectory, _fileName));
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, _depsRelativePath);
            if (File.Exists(path))
            {
                candidates.Add(path);
                break;
            }
        }
        candidates.Add(_fileName);
        return candidates;
    }

    private IntPtr Load()
    {
        var candidates = Candidates();
        var errors = new List<string>();
        foreach (var candidate in candidates)
        {
            bool isPath = candidate.Contains('/');
            if (isPath && !File.Exists(candidate))
            {
                errors.Add($"{candidate}: no such file");
                continue;
            }
            try
            {
                var handle = NativeLibrary.Load(candidate);
                _loadedFrom = candidate;
                return handle;
            }
            catch (DllNotFoundException e)
            {
                errors.Add($"{candidate}: {FirstLine(e.Message)}");
            }
            catch (BadImageFormatException e)
            {
                errors.Add($"{candidate}: {FirstLine(e.Message)}");
            }
        }
        var source = Environment.GetEnvironmentVariable(_environmentVariable) is { Length: > 0 } env
            ? $"{_environmentVariable}={env}"
            : $"{_fileName} was not beside the app, in {_depsRelativePath}, or on the system path";
        throw new Gpt2OnnxException($"cannot load {_fileName} ({source}; {string.Join("; ", errors)}): {_whatToDo}");
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}
