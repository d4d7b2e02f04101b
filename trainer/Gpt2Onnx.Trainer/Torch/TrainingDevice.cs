using Gpt2Onnx.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// Where training runs: "cpu", or "cuda" / "cuda:N" where the libtorch in use is a CUDA build (TorchRuntime:
/// GPT2ONNX_LIBTORCH). A CUDA device that is not there is one error line, before any work.
/// </summary>
public static class TrainingDevice
{
    public static Device Parse(string text)
    {
        if (text == "cpu") return CPU;
        int index = 0;
        bool numbered = text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), out index);
        bool cuda = text == "cuda" || numbered && index >= 0;
        if (!cuda) throw new Gpt2OnnxException($"--device {text} is not a device: use cpu, cuda or cuda:N");
        TorchRuntime.Load();
        if (!torch.cuda.is_available())
            throw new Gpt2OnnxException($"--device {text}: the libtorch in use ({TorchRuntime.LibTorchFolder}) " +
                $"has no CUDA: set {TorchRuntime.LibTorchVariable} to the lib folder of a CUDA build of " +
                "libtorch 2.10, or train with --device cpu");
        int count = torch.cuda.device_count();
        if (index >= count)
            throw new Gpt2OnnxException($"--device {text}: this machine has {count} CUDA device(s) " +
                $"(cuda:0 to cuda:{count - 1}): choose one of them");
        return new Device(DeviceType.CUDA, index);
    }
}
