using System.Text.RegularExpressions;
using Gpt2Onnx.Core;
using Gpt2Onnx.Core.IO;
using Gpt2Onnx.Core.Onnx;
using Gpt2Onnx.Runtime.Native;
using Microsoft.ML.OnnxRuntime;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// An ONNX Runtime inference session over one model file, with what this runtime reads of it: the graph's
/// inputs and outputs, its custom metadata, and the device it runs on. Generation runs it through
/// <see cref="OrtIoBinding"/>s (<see cref="CreateBinding"/>, <see cref="Run"/>), one RunOptions for every run.
/// </summary>
public sealed partial class ModelSession : IDisposable
{
    private readonly RunOptions _runOptions = new();

    public InferenceSession Session { get; }
    public string ModelPath { get; }
    public IReadOnlyList<GraphValue> Inputs { get; }
    public IReadOnlyList<GraphValue> Outputs { get; }
    /// <summary>Inputs with a default in the graph (overridable initializers): a run may feed or leave them.</summary>
    public IReadOnlyList<GraphValue> OptionalInputs { get; }
    /// <summary>The model's custom metadata (ModelProto.metadata_props).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Where the session runs, and the memory its cache and inputs live in.</summary>
    public ExecutionDevice Device { get; }

    public ModelSession(string modelPath, SessionSettings? settings = null)
    {
        settings ??= new SessionSettings();
        if (settings.IntraOpThreads < 0 || settings.IntraOpThreads > Environment.ProcessorCount)
            throw new Gpt2OnnxException($"{settings.IntraOpThreads} threads: give 0 (one per core) to the " +
                                        $"{Environment.ProcessorCount} cores this process may use");
        if (!File.Exists(modelPath))
            throw new Gpt2OnnxException($"{modelPath} {MissingFile.Why(modelPath)}: export a model with " +
                                        "'gpt2-export --checkpoint DIR --out DIR'");
        ContribNodeAudit.Check(modelPath);
        ModelPath = modelPath;
        EnsureEnvironment();
        using var options = Options(settings);
        if (settings.ProfilePrefix != null)
        {
            options.ProfileOutputPathPrefix = settings.ProfilePrefix; // read when profiling is enabled, so first
            options.EnableProfiling = true;
        }
        Device = CudaProvider.Append(options, settings);
        try
        {
            Session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new Gpt2OnnxException($"{modelPath} could not be loaded: {OneLine(e.Message)} — is it a complete " +
                                        "ONNX model from gpt2-export?", e);
        }
        NativeHeap.Trim(); // the weights ONNX Runtime copied while loading are freed by now
        try
        {
            Inputs = Describe(Session.InputMetadata);
            Outputs = Describe(Session.OutputMetadata);
            OptionalInputs = Describe(Session.OverridableInitializerMetadata);
            Metadata = new Dictionary<string, string>(Session.ModelMetadata.CustomMetadataMap);
            Device.Attach(Session);
        }
        catch
        {
            Session.Dispose();
            throw;
        }
    }

    /// <summary>The options every session of this runtime starts from: threads, optimisation and logging.</summary>
    internal static SessionOptions Options(SessionSettings settings) => new()
    {
        IntraOpNumThreads = settings.IntraOpThreads,
        InterOpNumThreads = 1,
        GraphOptimizationLevel = (GraphOptimizationLevel)(int)settings.Optimization,
        LogSeverityLevel = (OrtLoggingLevel)(int)settings.LogLevel,
    };

    private List<GraphValue> Describe(IReadOnlyDictionary<string, NodeMetadata> values) => values.Select(v =>
    {
        if (!v.Value.IsTensor)
            throw new Gpt2OnnxException($"{ModelPath}: the model's '{v.Key}' is not a tensor: this runtime handles " +
                                        "tensor inputs and outputs only");
        return new GraphValue(v.Key, (TensorElementType)(int)v.Value.ElementDataType,
                              v.Value.Dimensions.Select(d => (long)d).ToArray(), v.Value.SymbolicDimensions);
    }).ToList();

    /// <summary>The input called <paramref name="name"/>, required or optional; null when the graph has none.</summary>
    public GraphValue? Input(string name) =>
        Inputs.FirstOrDefault(i => i.Name == name) ?? OptionalInputs.FirstOrDefault(i => i.Name == name);

    public OrtIoBinding CreateBinding() => Session.CreateIoBinding();

    /// <summary>Runs the session on what <paramref name="binding"/> holds; allocates no managed memory.</summary>
    public void Run(OrtIoBinding binding)
    {
        try
        {
            Session.RunWithBinding(_runOptions, binding);
        }
        catch (OnnxRuntimeException e)
        {
            throw new Gpt2OnnxException($"ONNX Runtime could not run {ModelPath}: {OneLine(e.Message)}", e);
        }
    }

    public void Dispose()
    {
        Device.Dispose();
        Session.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>The ONNX Runtime version the process has loaded.</summary>
    public static string RuntimeVersion
    {
        get
        {
            EnsureEnvironment();
            return OrtEnv.Instance().GetVersionString();
        }
    }

    /// <summary>
    /// Creates the process's one ONNX Runtime environment, logging fatal errors only: its errors come back as
    /// exceptions, each one line. An app that made its own environment first keeps it.
    /// </summary>
    internal static void EnsureEnvironment()
    {
        lock (EnvironmentGate)
        {
            if (OrtEnv.IsCreated) return;
            var options = new EnvironmentCreationOptions
            {
                logId = "gpt2onnx", logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
            };
            OrtEnv.CreateInstanceWithOptions(ref options);
        }
    }

    private static readonly object EnvironmentGate = new();

    /// <summary>
    /// ORT's message as one line: line breaks become spaces, and its error-code prefix
    /// (<c>[ErrorCode:Fail] </c>), a source location with the C++ function's signature
    /// (<c>/onnxruntime_src/…/model.cc:187 onnxruntime::Model::Model(…) </c>) and its short form are dropped.
    /// </summary>
    internal static string OneLine(string message)
    {
        message = ManagedErrorPrefix().Replace(message.Trim(), "");
        message = SourceLocation().Replace(message, "", 1);
        message = ErrorCodePrefix().Replace(message, "");
        message = ShortSourceLocation().Replace(message, "");
        return LineBreaks().Replace(message, " ");
    }

    [GeneratedRegex(@"^\[ErrorCode:\w+\] ")]
    private static partial Regex ManagedErrorPrefix();

    [GeneratedRegex(@"/\S+\.(?:cc|cpp|h):\d+ [^(]*?\(.*?\) (?=\S)")]
    private static partial Regex SourceLocation();

    [GeneratedRegex(@"\b\w+\.(?:cc|cpp|h):\d+ \w+ ")]
    private static partial Regex ShortSourceLocation();

    [GeneratedRegex(@"\[ONNXRuntimeError\] : \d+ : \w+ : ")]
    private static partial Regex ErrorCodePrefix();

    [GeneratedRegex(@"\s*[\r\n]+\s*")]
    private static partial Regex LineBreaks();
}
