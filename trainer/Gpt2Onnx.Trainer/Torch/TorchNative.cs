using System.Runtime.InteropServices;
using Gpt2Onnx.Runtime.Native;

namespace Gpt2Onnx.Trainer.Torch;

/// <summary>
/// The C functions of the shim in trainer/native (see src/shim.h for the conventions), and the one
/// error path every call goes through.
/// </summary>
internal static unsafe class TorchNative
{
    private const string Shim = "gpt2onnx_torch";

    internal static readonly NativeLibraryLocator Locator = new(
        importName: Shim,
        fileName: "libgpt2onnx_torch.so",
        environmentVariable: "GPT2ONNX_TORCH_SHIM",
        depsRelativePath: ".deps/native/libgpt2onnx_torch.so",
        whatToDo: "run scripts/setup.sh to build the libtorch shim (TORCH_DIR=/path/to/libtorch for a libtorch other than Debian's)");

    static TorchNative() => Locator.Register(typeof(TorchNative).Assembly);

    internal static IntPtr Check(IntPtr handle)
    {
        if (handle == IntPtr.Zero) throw LastError();
        return handle;
    }

    internal static int Check(int result)
    {
        if (result < 0) throw LastError();
        return result;
    }

    internal static long Check(long result)
    {
        if (result < 0) throw LastError();
        return result;
    }

    /// <summary>For functions whose every value is legal: failure is known only from the error slot.</summary>
    internal static void CheckError()
    {
        if (g2t_last_error() != IntPtr.Zero) throw LastError();
    }

    private static TorchException LastError()
    {
        // The message lives in the shim's thread-local storage: read it, never free it.
        var message = Marshal.PtrToStringUTF8(g2t_last_error());
        return new TorchException(message ?? "libtorch call failed without a message");
    }

    // Each declaration mirrors one function in trainer/native/src; see the comment there for its meaning.
    [DllImport(Shim)] internal static extern IntPtr g2t_last_error();

    // library.cpp
    [DllImport(Shim)] internal static extern int g2t_version(byte* buffer, int capacity);
    [DllImport(Shim)] internal static extern int g2t_build_config(byte* buffer, int capacity);
    [DllImport(Shim)] internal static extern int g2t_set_num_threads(int threads);
    [DllImport(Shim)] internal static extern int g2t_get_num_threads();
    [DllImport(Shim)] internal static extern int g2t_cuda_device_count();
    [DllImport(Shim)] internal static extern int g2t_manual_seed(ulong seed);
    [DllImport(Shim)] internal static extern IntPtr g2t_generator_get_state();
    [DllImport(Shim)] internal static extern int g2t_generator_set_state(IntPtr state);

    // tensor.cpp
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_from_data(void* data, long nbytes, long* shape, int ndim, int dtype);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_new(int kind, long* shape, int ndim, int dtype);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_full(long* shape, int ndim, double value, int dtype);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_arange(long start, long end, int dtype);
    [DllImport(Shim)] internal static extern void g2t_tensor_free(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_ndim(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_shape(IntPtr tensor, long* shape, int capacity);
    [DllImport(Shim)] internal static extern int g2t_tensor_strides(IntPtr tensor, long* strides, int capacity);
    [DllImport(Shim)] internal static extern long g2t_tensor_numel(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_dtype(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_is_contiguous(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_device(IntPtr tensor);
    [DllImport(Shim)] internal static extern void* g2t_tensor_data_ptr(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_copy_to(IntPtr tensor, void* destination, long nbytes);
    [DllImport(Shim)] internal static extern int g2t_tensor_copy_from(IntPtr tensor, void* source, long nbytes);
    [DllImport(Shim)] internal static extern double g2t_tensor_item_double(IntPtr tensor);
    [DllImport(Shim)] internal static extern long g2t_tensor_item_int64(IntPtr tensor);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_to_dtype(IntPtr tensor, int dtype);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_to_device(IntPtr tensor, int device);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_contiguous(IntPtr tensor);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_clone(IntPtr tensor);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_detach(IntPtr tensor);
    [DllImport(Shim)] internal static extern IntPtr g2t_tensor_alias(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_requires_grad(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_tensor_set_requires_grad(IntPtr tensor, int value);

    // ops_math.cpp
    [DllImport(Shim)] internal static extern IntPtr g2t_binary(int op, IntPtr a, IntPtr b);
    [DllImport(Shim)] internal static extern IntPtr g2t_scalar_op(int op, IntPtr a, double s);
    [DllImport(Shim)] internal static extern IntPtr g2t_unary(int op, IntPtr a);
    [DllImport(Shim)] internal static extern IntPtr g2t_reduce(int op, IntPtr a, int dim, int keepdim);
    [DllImport(Shim)] internal static extern IntPtr g2t_matmul(IntPtr a, IntPtr b);
    [DllImport(Shim)] internal static extern IntPtr g2t_addmm(IntPtr bias, IntPtr a, IntPtr b);
    [DllImport(Shim)] internal static extern IntPtr g2t_where(IntPtr condition, IntPtr a, IntPtr b);
    [DllImport(Shim)] internal static extern IntPtr g2t_masked_fill(IntPtr a, IntPtr mask, double value);
    [DllImport(Shim)] internal static extern IntPtr g2t_clamp(IntPtr a, double low, double high);
    [DllImport(Shim)] internal static extern IntPtr g2t_triu(IntPtr a, long diagonal);
    [DllImport(Shim)] internal static extern IntPtr g2t_tril(IntPtr a, long diagonal);
    [DllImport(Shim)] internal static extern IntPtr g2t_cumsum(IntPtr a, long dim);
    [DllImport(Shim)] internal static extern int g2t_inplace(int op, IntPtr a, IntPtr b, double alpha);
    [DllImport(Shim)] internal static extern int g2t_inplace_scalar(int op, IntPtr a, double s);

    // ops_shape.cpp
    [DllImport(Shim)] internal static extern IntPtr g2t_reshape(IntPtr a, long* shape, int ndim);
    [DllImport(Shim)] internal static extern IntPtr g2t_view(IntPtr a, long* shape, int ndim);
    [DllImport(Shim)] internal static extern IntPtr g2t_expand(IntPtr a, long* shape, int ndim);
    [DllImport(Shim)] internal static extern IntPtr g2t_permute(IntPtr a, long* dims, int ndim);
    [DllImport(Shim)] internal static extern IntPtr g2t_transpose(IntPtr a, long dim0, long dim1);
    [DllImport(Shim)] internal static extern IntPtr g2t_narrow(IntPtr a, long dim, long start, long length);
    [DllImport(Shim)] internal static extern IntPtr g2t_select(IntPtr a, long dim, long index);
    [DllImport(Shim)] internal static extern IntPtr g2t_index_select(IntPtr a, long dim, IntPtr index);
    [DllImport(Shim)] internal static extern IntPtr g2t_gather(IntPtr a, long dim, IntPtr index);
    [DllImport(Shim)] internal static extern IntPtr g2t_unsqueeze(IntPtr a, long dim);
    [DllImport(Shim)] internal static extern IntPtr g2t_squeeze(IntPtr a, long dim);
    [DllImport(Shim)] internal static extern IntPtr g2t_flatten(IntPtr a, long start, long end);
    [DllImport(Shim)] internal static extern IntPtr g2t_cat(IntPtr* items, int count, long dim);
    [DllImport(Shim)] internal static extern IntPtr g2t_stack(IntPtr* items, int count, long dim);
    [DllImport(Shim)] internal static extern int g2t_split(IntPtr a, long splitSize, long dim, IntPtr* output, int capacity);

    // ops_nn.cpp
    [DllImport(Shim)] internal static extern IntPtr g2t_embedding(IntPtr weight, IntPtr indices);
    [DllImport(Shim)] internal static extern IntPtr g2t_conv1d_linear(IntPtr x, IntPtr weight, IntPtr bias);
    [DllImport(Shim)] internal static extern IntPtr g2t_linear(IntPtr x, IntPtr weight, IntPtr bias);
    [DllImport(Shim)] internal static extern IntPtr g2t_layer_norm(IntPtr x, IntPtr weight, IntPtr bias, double eps);
    [DllImport(Shim)] internal static extern IntPtr g2t_gelu(IntPtr x, int approximate);
    [DllImport(Shim)] internal static extern IntPtr g2t_softmax(IntPtr x, long dim);
    [DllImport(Shim)] internal static extern IntPtr g2t_log_softmax(IntPtr x, long dim);
    [DllImport(Shim)] internal static extern IntPtr g2t_dropout(IntPtr x, double p, int train);
    [DllImport(Shim)] internal static extern IntPtr g2t_cross_entropy(IntPtr logits, IntPtr targets, long ignoreIndex);
    [DllImport(Shim)] internal static extern IntPtr g2t_causal_attention(IntPtr q, IntPtr k, IntPtr v, IntPtr keyPadding, double dropout);
    [DllImport(Shim)] internal static extern int g2t_has_fused_attention();

    // ops_sample.cpp
    [DllImport(Shim)] internal static extern int g2t_topk(IntPtr a, long k, long dim, IntPtr* values, IntPtr* indices);
    [DllImport(Shim)] internal static extern IntPtr g2t_multinomial(IntPtr probabilities, long samples, int replacement);
    [DllImport(Shim)] internal static extern IntPtr g2t_sort_indices(IntPtr a, long dim, int descending);

    // autograd.cpp
    [DllImport(Shim)] internal static extern int g2t_backward(IntPtr loss);
    [DllImport(Shim)] internal static extern IntPtr g2t_grad(IntPtr tensor);
    [DllImport(Shim)] internal static extern int g2t_zero_grads(IntPtr* parameters, int count);
    [DllImport(Shim)] internal static extern int g2t_set_grad_enabled(int enabled);
    [DllImport(Shim)] internal static extern double g2t_clip_grad_norm(IntPtr* parameters, int count, double maxNorm);

    // autocast.cpp
    [DllImport(Shim)] internal static extern int g2t_set_autocast(int enabled, int dtype);

    // optim.cpp
    [DllImport(Shim)] internal static extern int g2t_adamw_step(IntPtr* parameters, IntPtr* expAvg, IntPtr* expAvgSq, double* decay,
                                                                int count, long step, double lr, double beta1, double beta2, double eps);
}
