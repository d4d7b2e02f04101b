using static Gpt2Onnx.Trainer.Torch.TorchNative;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>Views, reshapes, joins, selections and sampling selections (ops_shape.cpp, ops_sample.cpp).</summary>
public sealed unsafe partial class Tensor
{
    public Tensor Reshape(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return new(g2t_reshape(Handle, p, shape.Length));
    }

    /// <summary>A view with another shape; the data must be laid out to allow it (else use Reshape).</summary>
    public Tensor View(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return new(g2t_view(Handle, p, shape.Length));
    }

    public Tensor Expand(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return new(g2t_expand(Handle, p, shape.Length));
    }

    public Tensor Permute(params ReadOnlySpan<long> dims)
    {
        fixed (long* p = dims) return new(g2t_permute(Handle, p, dims.Length));
    }

    public Tensor Transpose(long dim0, long dim1) => new(g2t_transpose(Handle, dim0, dim1));
    /// <summary>Elements start..start+length-1 of one dimension, as a view.</summary>
    public Tensor Narrow(long dim, long start, long length) => new(g2t_narrow(Handle, dim, start, length));
    /// <summary>Index <paramref name="index"/> of dimension <paramref name="dim"/>, which disappears.</summary>
    public Tensor Select(long dim, long index) => new(g2t_select(Handle, dim, index));
    public Tensor IndexSelect(long dim, Tensor index) => new(g2t_index_select(Handle, dim, index.Handle));
    public Tensor Gather(long dim, Tensor index) => new(g2t_gather(Handle, dim, index.Handle));
    public Tensor Unsqueeze(long dim) => new(g2t_unsqueeze(Handle, dim));
    public Tensor Squeeze(long dim) => new(g2t_squeeze(Handle, dim));
    public Tensor Flatten(long start = 0, long end = -1) => new(g2t_flatten(Handle, start, end));

    public static Tensor Cat(IReadOnlyList<Tensor> tensors, long dim) =>
        WithHandles(tensors, handles => { fixed (IntPtr* p = handles) return new Tensor(g2t_cat(p, handles.Length, dim)); });

    public static Tensor Stack(IReadOnlyList<Tensor> tensors, long dim) =>
        WithHandles(tensors, handles => { fixed (IntPtr* p = handles) return new Tensor(g2t_stack(p, handles.Length, dim)); });

    /// <summary>Pieces of <paramref name="size"/> along <paramref name="dim"/> (the last may be smaller), as views.</summary>
    public Tensor[] Split(long size, long dim)
    {
        long length = Size((int)dim);
        int count = (int)((length + size - 1) / size);
        var handles = new IntPtr[count];
        int made;
        fixed (IntPtr* p = handles) made = Check(g2t_split(Handle, size, dim, p, count));
        var pieces = new Tensor[made];
        for (int i = 0; i < made; i++) pieces[i] = new Tensor(handles[i]);
        return pieces;
    }

    /// <summary>The k largest values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) TopK(long k, long dim = -1)
    {
        IntPtr values, indices;
        Check(g2t_topk(Handle, k, dim, &values, &indices));
        return (new Tensor(values), new Tensor(indices));
    }

    /// <summary>Indices drawn from each row of probabilities (default generator).</summary>
    public Tensor Multinomial(long samples, bool replacement = false) => new(g2t_multinomial(Handle, samples, replacement ? 1 : 0));

    public Tensor ArgSort(long dim = -1, bool descending = false) => new(g2t_sort_indices(Handle, dim, descending ? 1 : 0));
}
