using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>An ONNX Runtime inference session over one model file.</summary>
public sealed unsafe class OrtSession : IDisposable
{
    private readonly OrtSessionHandle _session;

    public string ModelPath { get; }
    public IReadOnlyList<OrtNodeInfo> Inputs { get; }
    public IReadOnlyList<OrtNodeInfo> Outputs { get; }
    /// <summary>Inputs with a default value in the graph (overridable initializers): a run may feed them or leave them.</summary>
    public IReadOnlyList<OrtNodeInfo> OptionalInputs { get; }
    /// <summary>The model's custom metadata (ModelProto.metadata_props).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>"cpu" or "cuda:N": where the session actually runs.</summary>
    public string Device { get; }

    public OrtSession(string modelPath, SessionSettings? settings = null)
    {
        settings ??= new SessionSettings();
        if (settings.IntraOpThreads < 0) throw new Gpt2OnnxException($"--threads must be 0 (one per core) or more, not {settings.IntraOpThreads}");
        if (!File.Exists(modelPath))
            throw new Gpt2OnnxException($"{modelPath} is missing: export a model with 'gpt2-export --checkpoint DIR --out DIR'");
        ContribNodeAudit.Check(modelPath);
        ModelPath = modelPath;
        IntPtr env = OrtEnvironment.Handle; // first: ONNX Runtime logs through it while it loads an execution provider
        IntPtr options;
        OrtApi.Check(OrtApi.Api.CreateSessionOptions(&options));
        using var optionsHandle = OrtSessionOptionsHandle.Wrap(options);
        OrtApi.Check(OrtApi.Api.SetIntraOpNumThreads(options, settings.IntraOpThreads));
        OrtApi.Check(OrtApi.Api.SetInterOpNumThreads(options, 1));
        OrtApi.Check(OrtApi.Api.SetSessionGraphOptimizationLevel(options, (int)settings.Optimization));
        OrtApi.Check(OrtApi.Api.SetSessionLogSeverityLevel(options, (int)settings.LogLevel));
        Device = CudaProvider.Append(options, settings.Device);
        if (settings.HugePages && Device == "cpu") HugePageAllocator.UseFor(options);
        if (settings.ProfilePrefix != null)
            fixed (byte* prefix = OrtApi.Utf8(settings.ProfilePrefix))
                OrtApi.Check(OrtApi.Api.EnableProfiling(options, prefix));

        IntPtr session;
        fixed (byte* path = OrtApi.Utf8(modelPath))
        {
            try
            {
                using var loading = HugePageAllocator.Loading();
                OrtApi.Check(OrtApi.Api.CreateSession(env, path, options, &session));
            }
            catch (OrtException e)
            {
                throw new Gpt2OnnxException($"{modelPath} could not be loaded: {e.OrtMessage} — is it a complete ONNX model from gpt2-export?", e);
            }
        }
        _session = OrtSessionHandle.Wrap(session);
        NativeHeap.Trim(); // the weights ONNX Runtime copied while loading are freed by now
        Inputs = ReadNodes(NodeKind.Input);
        Outputs = ReadNodes(NodeKind.Output);
        OptionalInputs = ReadNodes(NodeKind.OverridableInitializer);
        Metadata = ReadMetadata();
    }

    internal IntPtr Handle => _session.DangerousGetHandle();

    /// <summary>The input called <paramref name="name"/>, required or optional; null when the graph has none.</summary>
    public OrtNodeInfo? Input(string name) => Inputs.FirstOrDefault(i => i.Name == name) ?? OptionalInputs.FirstOrDefault(i => i.Name == name);

    /// <summary>
    /// Runs the model on named inputs and returns the named outputs in ONNX Runtime's memory (dispose
    /// them). The simple path; generation uses <see cref="OrtIoBinding"/> instead.
    /// </summary>
    public OrtTensor[] Run(IReadOnlyList<(string Name, OrtTensor Value)> inputs, IReadOnlyList<string> outputNames)
    {
        var inputNames = inputs.Select(i => new OrtName(i.Name)).ToArray();
        var outputs = outputNames.Select(n => new OrtName(n)).ToArray();
        var inputNamePointers = stackalloc byte*[inputNames.Length];
        var inputValues = stackalloc IntPtr[inputNames.Length];
        var outputNamePointers = stackalloc byte*[outputs.Length];
        var outputValues = stackalloc IntPtr[outputs.Length];
        for (int i = 0; i < inputNames.Length; i++)
        {
            inputNamePointers[i] = inputNames[i].Pointer;
            inputValues[i] = inputs[i].Value.Handle;
        }
        for (int i = 0; i < outputs.Length; i++)
        {
            outputNamePointers[i] = outputs[i].Pointer;
            outputValues[i] = IntPtr.Zero;
        }
        OrtApi.Check(OrtApi.Api.Run(Handle, IntPtr.Zero, inputNamePointers, inputValues, (nuint)inputNames.Length,
                                    outputNamePointers, (nuint)outputs.Length, outputValues));
        GC.KeepAlive(inputNames);
        GC.KeepAlive(outputs);
        var result = new OrtTensor[outputs.Length];
        for (int i = 0; i < outputs.Length; i++) result[i] = OrtTensor.Own(outputValues[i]);
        return result;
    }

    public OrtIoBinding CreateBinding() => new(this);

    private enum NodeKind { Input, Output, OverridableInitializer }

    private List<OrtNodeInfo> ReadNodes(NodeKind kind)
    {
        ref readonly var api = ref OrtApi.Api;
        nuint count;
        OrtApi.Check(kind switch
        {
            NodeKind.Input => api.SessionGetInputCount(Handle, &count),
            NodeKind.Output => api.SessionGetOutputCount(Handle, &count),
            _ => api.SessionGetOverridableInitializerCount(Handle, &count),
        });
        var nodes = new List<OrtNodeInfo>();
        for (nuint i = 0; i < count; i++)
        {
            byte* name;
            IntPtr typeInfo;
            OrtApi.Check(kind switch
            {
                NodeKind.Input => api.SessionGetInputName(Handle, i, OrtApi.DefaultAllocator, &name),
                NodeKind.Output => api.SessionGetOutputName(Handle, i, OrtApi.DefaultAllocator, &name),
                _ => api.SessionGetOverridableInitializerName(Handle, i, OrtApi.DefaultAllocator, &name),
            });
            string text = OrtApi.TakeString(name);
            OrtApi.Check(kind switch
            {
                NodeKind.Input => api.SessionGetInputTypeInfo(Handle, i, &typeInfo),
                NodeKind.Output => api.SessionGetOutputTypeInfo(Handle, i, &typeInfo),
                _ => api.SessionGetOverridableInitializerTypeInfo(Handle, i, &typeInfo),
            });
            nodes.Add(OrtTypeInfo.Describe(text, typeInfo));
        }
        return nodes;
    }

    private Dictionary<string, string> ReadMetadata()
    {
        IntPtr metadata;
        OrtApi.Check(OrtApi.Api.SessionGetModelMetadata(Handle, &metadata));
        try
        {
            byte** keys;
            long count;
            IntPtr allocator = OrtApi.DefaultAllocator;
            OrtApi.Check(OrtApi.Api.ModelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &count));
            var result = new Dictionary<string, string>();
            if (keys == null) return result;
            try
            {
                for (long i = 0; i < count; i++)
                {
                    string key = OrtApi.TakeString(keys[i]);
                    byte* value;
                    fixed (byte* k = OrtApi.Utf8(key)) OrtApi.Check(OrtApi.Api.ModelMetadataLookupCustomMetadataMap(metadata, allocator, k, &value));
                    result[key] = value == null ? "" : OrtApi.TakeString(value);
                }
            }
            finally
            {
                OrtApi.Check(OrtApi.Api.AllocatorFree(allocator, keys));
            }
            return result;
        }
        finally
        {
            OrtApi.Api.ReleaseModelMetadata(metadata);
        }
    }

    public void Dispose() => _session.Dispose();

    /// <summary>ONNX Runtime's build description (version, git commit, build options).</summary>
    public static string BuildInfo => Marshal.PtrToStringUTF8((IntPtr)OrtApi.Api.GetBuildInfoString()) ?? "";
}
