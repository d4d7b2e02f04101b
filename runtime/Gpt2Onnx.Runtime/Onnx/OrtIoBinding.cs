namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// Inputs and outputs bound to a session ahead of a run, so that a generation step passes no names,
/// converts nothing, and (with outputs bound to preallocated tensors) copies no results.
/// </summary>
public sealed unsafe class OrtIoBinding : IDisposable
{
    private readonly OrtSession _session;
    private readonly OrtIoBindingHandle _binding;

    internal OrtIoBinding(OrtSession session)
    {
        _session = session;
        IntPtr binding;
        OrtApi.Check(OrtApi.Api.CreateIoBinding(session.Handle, &binding));
        _binding = OrtIoBindingHandle.Wrap(binding);
    }

    private IntPtr Handle => _binding.DangerousGetHandle();

    public void BindInput(OrtName name, OrtTensor value) => OrtApi.Check(OrtApi.Api.BindInput(Handle, name.Pointer, value.Handle));

    /// <summary>The run writes this output into <paramref name="value"/>, which must have the output's exact shape.</summary>
    public void BindOutput(OrtName name, OrtTensor value) => OrtApi.Check(OrtApi.Api.BindOutput(Handle, name.Pointer, value.Handle));

    /// <summary>The run allocates this output in CPU memory; read it with <see cref="TakeOutputs"/>.</summary>
    public void BindOutputToCpu(OrtName name) => OrtApi.Check(OrtApi.Api.BindOutputToDevice(Handle, name.Pointer, OrtMemory.Cpu));

    public void ClearInputs() => OrtApi.Api.ClearBoundInputs(Handle);
    public void ClearOutputs() => OrtApi.Api.ClearBoundOutputs(Handle);

    public void Run() => OrtApi.Check(OrtApi.Api.RunWithBinding(_session.Handle, IntPtr.Zero, Handle));

    /// <summary>The bound outputs after a run, in binding order, as new owned tensors (dispose them).</summary>
    public OrtTensor[] TakeOutputs()
    {
        IntPtr* values;
        nuint count;
        IntPtr allocator = OrtApi.DefaultAllocator;
        OrtApi.Check(OrtApi.Api.GetBoundOutputValues(Handle, allocator, &values, &count));
        if (values == null) return [];
        try
        {
            var result = new OrtTensor[(int)count];
            for (int i = 0; i < result.Length; i++) result[i] = OrtTensor.Own(values[i]);
            return result;
        }
        finally
        {
            OrtApi.Check(OrtApi.Api.AllocatorFree(allocator, values));
        }
    }

    public void Dispose() => _binding.Dispose();
}
