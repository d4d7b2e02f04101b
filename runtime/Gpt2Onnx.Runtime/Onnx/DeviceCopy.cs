using Gpt2Onnx.Core.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Copies between device buffers, or from the host to one, through ONNX Runtime's own data transfer
/// (OrtEnv.CopyTensors), so the runtime needs no CUDA binding of its own. Used off the per-token path only:
/// zeroing a new cache, and moving a sequence between slots of a continuous batch.
/// </summary>
internal static unsafe class DeviceCopy
{
    private const int ZeroChunk = 1 << 20;

    private const Microsoft.ML.OnnxRuntime.Tensors.TensorElementType Bytes =
        Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.UInt8;

    public static void Copy(void* source, OrtMemoryInfo sourceMemory, void* target, OrtMemoryInfo targetMemory,
                            long bytes)
    {
        if (bytes == 0) return;
        using var from = OrtValue.CreateTensorValueWithData(sourceMemory, Bytes, [bytes], (IntPtr)source, bytes);
        using var to = OrtValue.CreateTensorValueWithData(targetMemory, Bytes, [bytes], (IntPtr)target, bytes);
        OrtEnv.Instance().CopyTensors([from], [to], null);
    }

    public static void Zero(void* target, OrtMemoryInfo targetMemory, long bytes)
    {
        var zeros = new byte[(int)Math.Min(bytes, ZeroChunk)];
        fixed (byte* source = zeros)
            for (long done = 0; done < bytes; done += zeros.Length)
                Copy(source, OrtMemoryInfo.DefaultInstance, (byte*)target + done, targetMemory,
                     Math.Min(zeros.Length, bytes - done));
    }
}
