namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>How a session is created: threads, optimisation, logging and device.</summary>
public sealed record SessionSettings
{
    /// <summary>Threads inside one operator; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }
    public GraphOptimization Optimization { get; init; } = GraphOptimization.All;
    /// <summary>
    /// What ONNX Runtime itself logs on stderr. Its errors also come back as exceptions, so by default it logs
    /// only fatal ones.
    /// </summary>
    public RuntimeLogLevel LogLevel { get; init; } = RuntimeLogLevel.Fatal;
    /// <summary>"cpu", "cuda:N", or "auto" (CUDA where its provider loads, else the CPU, with a warning).</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>
    /// When set, ONNX Runtime traces every operator's run into PREFIX_DATE.json (Chrome trace format), written
    /// when the session closes.
    /// </summary>
    public string? ProfilePrefix { get; init; }
}

/// <summary>ONNX Runtime's logging severities, as the command line names them.</summary>
public enum RuntimeLogLevel { Verbose = 0, Info = 1, Warning = 2, Error = 3, Fatal = 4 }

/// <summary>ONNX Runtime's graph optimisation levels, as the command line names them.</summary>
public enum GraphOptimization { None = 0, Basic = 1, Extended = 2, All = 99 }
