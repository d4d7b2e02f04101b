using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// Mixed precision (torch.autocast): inside the scope, matrix products run in <c>dtype</c> (bf16) while
/// weights, reductions and the loss stay fp32. Run the forward pass inside and backward() outside.
/// </summary>
public readonly struct Autocast : IDisposable
{
    private readonly bool _previous;
    private readonly ScalarType _dtype;

    public Autocast(ScalarType dtype)
    {
        _dtype = dtype;
        _previous = Check(g2t_set_autocast(1, (int)dtype)) == 1;
    }

    public void Dispose() => g2t_set_autocast(_previous ? 1 : 0, (int)_dtype);

    /// <summary>
    /// Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX); elsewhere libtorch emulates it, which
    /// is correct but slower than fp32.
    /// </summary>
    public static bool CpuHasNativeBf16
    {
        get
        {
            try
            {
                var flags = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
                return flags.Contains(" avx512_bf16", StringComparison.Ordinal) || flags.Contains(" amx_bf16", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }
    }
}
