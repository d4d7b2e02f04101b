namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Where a tensor lives: the CPU, or CUDA device N. Parsed from "cpu" or "cuda:N" ("cuda" = cuda:0).</summary>
public readonly record struct Device(int CudaIndex)
{
    public static readonly Device Cpu = new(-1);

    public bool IsCpu => CudaIndex < 0;

    public static Device Parse(string text) => text switch
    {
        "cpu" => Cpu,
        "cuda" => new Device(0),
        _ when text.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(text.AsSpan(5), out int n) && n >= 0 => new Device(n),
        _ => throw new Gpt2Onnx.Runtime.Gpt2OnnxException($"'{text}' is not a device: use cpu or cuda:N"),
    };

    public override string ToString() => IsCpu ? "cpu" : $"cuda:{CudaIndex}";
}
