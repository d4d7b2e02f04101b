using Gpt2Onnx.Core;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Adds ONNX Runtime's CUDA execution provider for "cuda:N" (or tries it for "auto"), or says exactly what is
/// missing: the provider ships in Microsoft.ML.OnnxRuntime.Gpu.Linux, not in the CPU package, and loads CUDA 13
/// and cuDNN 9 when it is appended.
/// </summary>
internal static class CudaProvider
{
    public const string GpuPackage = "Microsoft.ML.OnnxRuntime.Gpu.Linux";

    public static ExecutionDevice Append(SessionOptions options, SessionSettings settings)
    {
        string device = settings.Device;
        if (device == "cpu") return ExecutionDevice.Cpu();
        bool auto = device == "auto";
        int index = 0;
        if (!auto && device != "cuda" && !(device.StartsWith("cuda:", StringComparison.Ordinal)
                                           && int.TryParse(device.AsSpan(5), out index) && index >= 0))
            throw new Gpt2OnnxException($"'{device}' is not a device: use cpu, cuda:N or auto");
        string? why = Unavailable(options, index);
        if (why == null) return ExecutionDevice.Cuda(index);
        if (!auto) throw new Gpt2OnnxException(why + "; or use --device cpu");
        Console.Error.WriteLine($"warning: {why}; running on the CPU");
        return ExecutionDevice.Cpu();
    }

    /// <summary>Appends the provider; null when it loaded, else the line saying why not and what to install.</summary>
    private static string? Unavailable(SessionOptions options, int deviceId)
    {
        if (!OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
            return "this build has ONNX Runtime's CPU package, which has no CUDA provider: build with " +
                   $"'-p:OnnxRuntimeGpu=true' (package {GpuPackage}), on a machine with CUDA 13 and cuDNN 9";
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // The cache is allocated once per generator; the arena then grows only by what a step needs.
                ["arena_extend_strategy"] = "kSameAsRequested",
            });
            options.AppendExecutionProvider_CUDA(cuda);
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            return $"the CUDA execution provider did not load ({ModelSession.OneLine(e.Message)}): install CUDA 13 " +
                   $"and cuDNN 9 (their libraries on LD_LIBRARY_PATH) for {GpuPackage}";
        }
    }
}
