namespace Gpt2Onnx.Trainer.Torch;

/// <summary>What this CPU computes natively, from /proc/cpuinfo.</summary>
public static class CpuFeatures
{
    /// <summary>
    /// Whether the CPU has bf16 instructions (AVX-512 BF16 or AMX); elsewhere libtorch emulates bf16, which is
    /// correct but slower than fp32.
    /// </summary>
    public static bool HasNativeBf16
    {
        get
        {
            try
            {
                var flags = File.ReadLines("/proc/cpuinfo")
                    .FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal)) ?? "";
                return flags.Contains(" avx512_bf16", StringComparison.Ordinal)
                    || flags.Contains(" amx_bf16", StringComparison.Ordinal);
            }
            catch (IOException)
            {
                return false;
            }
        }
    }
}
