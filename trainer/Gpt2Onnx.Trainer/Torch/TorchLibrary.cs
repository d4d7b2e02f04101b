using Gpt2Onnx.Runtime;
using System.Text;
using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Facts about the libtorch in use, and its thread count.</summary>
public static unsafe class TorchLibrary
{
    /// <summary>libtorch's version, for example "1.13.1".</summary>
    public static string Version => ReadString(&g2t_version);

    /// <summary>libtorch's build configuration, as torch.__config__.show() prints it.</summary>
    public static string BuildConfig => ReadString(&g2t_build_config);

    /// <summary>
    /// The BLAS libtorch was built for ("mkl", "open", or "generic" for whatever libblas.so.3 the system
    /// provides, as in Debian's build), from its build configuration.
    /// </summary>
    public static string Blas
    {
        get
        {
            string config = BuildConfig;
            int at = config.IndexOf("BLAS_INFO=", StringComparison.Ordinal);
            if (at < 0) return "unknown";
            int start = at + "BLAS_INFO=".Length;
            int end = config.IndexOfAny([',', '\n'], start);
            return config[start..(end < 0 ? config.Length : end)];
        }
    }

    /// <summary>
    /// The BLAS shared library actually loaded in this process (from /proc/self/maps): Debian's libtorch
    /// goes through the libblas.so.3 alternative, which is the slow reference BLAS unless OpenBLAS is installed.
    /// </summary>
    public static string LoadedBlasLibrary
    {
        get
        {
            _ = Version; // make sure libtorch is loaded
            try
            {
                var libraries = File.ReadLines("/proc/self/maps")
                    .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                    .Where(p => p.Contains("blas", StringComparison.OrdinalIgnoreCase) || p.Contains("libmkl", StringComparison.Ordinal))
                    .Distinct().ToList();
                return libraries.Count == 0 ? "none found" : string.Join(", ", libraries.Select(ResolveLink));
            }
            catch (IOException)
            {
                return "unknown";
            }
        }
    }

    /// <summary>A warning line when the loaded BLAS is the reference implementation (about 75x slower), else null.</summary>
    public static string? BlasWarning
    {
        get
        {
            string loaded = LoadedBlasLibrary;
            bool optimized = loaded.Contains("openblas", StringComparison.OrdinalIgnoreCase) || loaded.Contains("mkl", StringComparison.OrdinalIgnoreCase);
            return optimized ? null
                : $"libtorch is using the reference BLAS ({loaded}), which is very slow: apt-get install libopenblas0-pthread (scripts/setup.sh does)";
        }
    }

    public static int Threads
    {
        get => Check(g2t_get_num_threads());
        set => Check(value > 0 ? g2t_set_num_threads(value) : throw new Gpt2OnnxException($"--threads must be positive, not {value}"));
    }

    public static int CudaDeviceCount => Check(g2t_cuda_device_count());

    /// <summary>Where the shim was loaded from.</summary>
    public static string ShimPath => Locator.LoadedFrom;

    private static string ReadString(delegate*<byte*, int, int> read)
    {
        int length = Check(read(null, 0));
        var buffer = new byte[length + 1];
        fixed (byte* p = buffer) Check(read(p, buffer.Length));
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    private static string ResolveLink(string path)
    {
        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            return target?.FullName ?? path;
        }
        catch (IOException)
        {
            return path;
        }
    }
}
