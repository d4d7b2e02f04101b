using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Gpt2Onnx.Runtime.Onnx;

/// <summary>
/// An input or output name as NUL-terminated UTF-8 in pinned memory, made once so that binding and running
/// per token converts and allocates nothing.
/// </summary>
public sealed unsafe class OrtName
{
    private readonly byte[] _utf8;

    public OrtName(string name)
    {
        Text = name;
        var bytes = OrtApi.Utf8(name);
        _utf8 = GC.AllocateArray<byte>(bytes.Length, pinned: true);
        bytes.CopyTo(_utf8, 0);
    }

    public string Text { get; }

    /// <summary>Valid for the life of this object (the array is pinned).</summary>
    internal byte* Pointer => (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_utf8));

    public override string ToString() => Text;
}
