namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>How a session is created: threads, optimisation, logging and device.</summary>
public sealed record SessionSettings
{
    /// <summary>Threads inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }
    public GraphOptimization Optimization { get; init; } = GraphOptimization.All;
    /// <summary>What ONNX Runtime itself logs on stderr. Its errors also come back as exceptions, so by default it logs only fatal ones.</summary>
    public OrtLogLevel LogLevel { get; init; } = OrtLogLevel.Fatal;
    /// <summary>"cpu", "cuda:N", or "auto" (CUDA when its provider libraries load, else the CPU, with a warning).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>When set, ONNX Runtime traces every operator's run into PREFIX_DATE.json (Chrome trace format), written when the session closes.</summary>
    public string? ProfilePrefix { get; init; }
    /// <summary>
    /// Put the weights the session prepares while loading on 2 MB pages (Linux; CPU sessions), so streaming them
    /// once per token misses the TLB 512 times less often. On by default; false leaves ONNX Runtime's own allocator.
    /// </summary>
    public bool HugePages { get; init; } = true;
}
