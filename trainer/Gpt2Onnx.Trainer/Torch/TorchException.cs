using Gpt2Onnx.Runtime;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>A libtorch call failed; the message is libtorch's own, without its C++ backtrace.</summary>
public sealed class TorchException : Gpt2OnnxException
{
    public TorchException(string message) : base(message) { }
}
