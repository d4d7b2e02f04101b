using Gpt2Onnx.Trainer.Model;
using static TorchSharp.torch;

namespace Gpt2Onnx.Trainer.Training;

/// <summary>
/// Where a run's memory goes: the bytes of the weights, their gradients and the optimizer's state, counted from
/// the tensors themselves, against the process's peak resident set (VmHWM, Linux). What the peak holds beyond
/// those and the resident set before the model existed is the activations and the temporaries of a step.
/// </summary>
public sealed class MemoryReport
{
    private readonly long _before = ResidentBytes("VmRSS:");

    /// <summary>The process's peak resident set so far, in bytes (0 where /proc is not there).</summary>
    public static long PeakBytes => ResidentBytes("VmHWM:");

    /// <summary>One line: peak, weights, gradients, optimizer state, activations and the rest, in GB.</summary>
    public string Describe(Gpt2Model model, IGpt2Optimizer optimizer)
    {
        long weights = model.Parameters.Sum(p => Bytes(p.Tensor));
        // One fp32 buffer per trainable parameter: what the backward pass fills, whether or not it is allocated now.
        long gradients = model.Parameters.Sum(p => p.Tensor.requires_grad ? Bytes(p.Tensor) : 0);
        long state = optimizer.State.Sum(s => Bytes(s.Value));
        long peak = PeakBytes;
        long activations = Math.Max(0, peak - _before - weights - gradients - state);
        return $"memory: peak RSS {Gb(peak)} GB = weights {Gb(weights)} + gradients {Gb(gradients)} + " +
               $"optimizer {Gb(state)} + activations and temporaries {Gb(activations)} + runtime {Gb(_before)}";
    }

    private static long Bytes(Tensor t) => t.numel() * t.element_size();

    private static string Gb(long bytes) =>
        (bytes / 1e9).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A "Vm…:" line of /proc/self/status in bytes.</summary>
    private static long ResidentBytes(string field)
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status)) return 0;
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[field.Length..].Trim().Split(' ')[0]) * 1024;
    }
}
