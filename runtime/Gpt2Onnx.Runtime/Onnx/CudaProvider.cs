namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Adds the CUDA execution provider through its V2 options, or says exactly what is missing. The provider
/// ships separately from libonnxruntime.so (Microsoft.ML.OnnxRuntime.Gpu.Linux); its libraries must sit
/// beside the core library.
/// </summary>
internal static unsafe class CudaProvider
{
    public const string ProviderFiles = "libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so";

    /// <summary>Appends the provider for "cuda:N" (or tries it for "auto"); returns the device the session uses.</summary>
    public static string Append(IntPtr sessionOptions, string device)
    {
        if (device == "cpu") return "cpu";
        int index = 0;
        bool auto = device == "auto";
        if (!auto && !(device.StartsWith("cuda", StringComparison.Ordinal) && (device == "cuda" || (device.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(device.AsSpan(5), out index) && index >= 0))))
            throw new Gpt2OnnxException($"'{device}' is not a device: use cpu, cuda:N or auto");
        string folder = Path.GetDirectoryName(Path.GetFullPath(OrtLibrary.LoadedFrom)) ?? ".";
        try
        {
            IntPtr cudaOptions;
            OrtApi.Check(OrtApi.Api.CreateCUDAProviderOptions(&cudaOptions));
            try
            {
                var key = OrtApi.Utf8("device_id");
                var value = OrtApi.Utf8(index.ToString());
                fixed (byte* k = key)
                fixed (byte* v = value)
                {
                    byte* keys = k, values = v;
                    OrtApi.Check(OrtApi.Api.UpdateCUDAProviderOptions(cudaOptions, &keys, &values, 1));
                }
                OrtApi.Check(OrtApi.Api.SessionOptionsAppendExecutionProvider_CUDA_V2(sessionOptions, cudaOptions));
            }
            finally
            {
                OrtApi.Api.ReleaseCUDAProviderOptions(cudaOptions);
            }
            return $"cuda:{index}";
        }
        catch (OrtException e)
        {
            string why = $"the CUDA execution provider is not available ({e.OrtMessage}): put {ProviderFiles} " +
                         $"(from the NuGet package Microsoft.ML.OnnxRuntime.Gpu.Linux {OrtLibrary.ExpectedVersion}) in {folder}, with CUDA 12 and cuDNN 9 installed";
            if (!auto) throw new Gpt2OnnxException(why + "; or use --device cpu");
            Console.Error.WriteLine($"warning: {why}; running on the CPU");
            return "cpu";
        }
    }
}
