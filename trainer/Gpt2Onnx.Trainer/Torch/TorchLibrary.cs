using System.Text;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Facts about the libtorch in use.</summary>
public static unsafe class TorchLibrary
{
    /// <summary>libtorch's version, for example "1.13.1".</summary>
    public static string Version
    {
        get
        {
            Span<byte> buffer = stackalloc byte[64];
            int length;
            fixed (byte* p = buffer)
                length = TorchNative.Check(TorchNative.g2t_version(p, buffer.Length));
            return Encoding.UTF8.GetString(buffer[..Math.Min(length, buffer.Length - 1)]);
        }
    }

    /// <summary>Where the shim was loaded from.</summary>
    public static string ShimPath => TorchNative.Locator.LoadedFrom;
}
