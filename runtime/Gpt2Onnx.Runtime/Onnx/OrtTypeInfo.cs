using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>A graph input or output: its name, element type and dimensions (-1 and a name where symbolic).</summary>
public sealed record OrtNodeInfo(string Name, TensorElementType ElementType, long[] Dimensions, string[] SymbolicDimensions)
{
    public override string ToString() =>
        $"{Name}: {ElementType} [{string.Join(", ", Dimensions.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";
}

internal static unsafe class OrtTypeInfo
{
    /// <summary>Reads (and releases) an OrtTypeInfo describing a tensor.</summary>
    public static OrtNodeInfo Describe(string name, IntPtr typeInfo)
    {
        try
        {
            IntPtr tensorInfo; // owned by typeInfo
            OrtApi.Check(OrtApi.Api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
            if (tensorInfo == IntPtr.Zero) throw new Gpt2OnnxException($"the model's '{name}' is not a tensor: this runtime handles tensor inputs and outputs only");
            int type;
            OrtApi.Check(OrtApi.Api.GetTensorElementType(tensorInfo, &type));
            var dims = Dimensions(tensorInfo);
            var symbolic = new IntPtr[dims.Length];
            fixed (IntPtr* p = symbolic) OrtApi.Check(OrtApi.Api.GetSymbolicDimensions(tensorInfo, (byte**)p, (nuint)dims.Length));
            var names = symbolic.Select(s => Marshal.PtrToStringUTF8(s) ?? "").ToArray();
            return new OrtNodeInfo(name, (TensorElementType)type, dims, names);
        }
        finally
        {
            OrtApi.Api.ReleaseTypeInfo(typeInfo);
        }
    }

    public static long[] Dimensions(IntPtr tensorInfo)
    {
        nuint count;
        OrtApi.Check(OrtApi.Api.GetDimensionsCount(tensorInfo, &count));
        var dims = new long[(int)count];
        fixed (long* p = dims) OrtApi.Check(OrtApi.Api.GetDimensions(tensorInfo, p, count));
        return dims;
    }
}
