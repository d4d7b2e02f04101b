// Tensor lifetime, metadata, conversions and the copies between C# memory and tensors.
#include <torch/torch.h>
#include <cstring>
#include "error.h"
#include "shim.h"

namespace g2t {
std::vector<at::Tensor> unwrap(g2t_tensor* items, int count) {
  std::vector<at::Tensor> result;
  result.reserve(count);
  for (int i = 0; i < count; i++) result.push_back(*items[i]);
  return result;
}
}

// A new CPU tensor of dtype (a c10::ScalarType value) and shape, filled with a copy of nbytes of data.
G2T_API g2t_tensor g2t_tensor_from_data(const void* data, int64_t nbytes, const int64_t* shape, int ndim,
                                        int dtype) {
  G2T_GUARD(nullptr, {
    auto options = torch::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype));
    at::Tensor tensor = torch::empty(c10::IntArrayRef(shape, ndim), options);
    int64_t expected = tensor.numel() * static_cast<int64_t>(tensor.element_size());
    TORCH_CHECK(nbytes == expected, "data holds ", nbytes, " bytes but the shape needs ", expected);
    if (expected > 0) std::memcpy(tensor.data_ptr(), data, expected);
    return new at::Tensor(std::move(tensor));
  })
}

// kind: 0 zeros, 1 ones, 2 empty, 3 standard normal, 4 uniform [0, 1).
G2T_API g2t_tensor g2t_tensor_new(int kind, const int64_t* shape, int ndim, int dtype) {
  G2T_GUARD(nullptr, {
    auto options = torch::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype));
    c10::IntArrayRef sizes(shape, ndim);
    switch (kind) {
      case 0: return g2t::wrap(torch::zeros(sizes, options));
      case 1: return g2t::wrap(torch::ones(sizes, options));
      case 2: return g2t::wrap(torch::empty(sizes, options));
      case 3: return g2t::wrap(torch::randn(sizes, options));
      case 4: return g2t::wrap(torch::rand(sizes, options));
    }
    TORCH_CHECK(false, "unknown tensor kind ", kind);
  })
}

G2T_TENSOR_FN(g2t_tensor_full, (const int64_t* shape, int ndim, double value, int dtype),
              torch::full(c10::IntArrayRef(shape, ndim), value, torch::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype))))
G2T_TENSOR_FN(g2t_tensor_arange, (int64_t start, int64_t end, int dtype),
              torch::arange(start, end, torch::TensorOptions().dtype(static_cast<c10::ScalarType>(dtype))))

G2T_API void g2t_tensor_free(g2t_tensor tensor) { delete tensor; }

G2T_API int g2t_tensor_ndim(g2t_tensor tensor) {
  G2T_GUARD(-1, { return static_cast<int>(tensor->dim()); })
}

// Writes up to capacity sizes (or strides) into out; returns the number of dimensions.
G2T_API int g2t_tensor_shape(g2t_tensor tensor, int64_t* out, int capacity) {
  G2T_GUARD(-1, {
    int ndim = static_cast<int>(tensor->dim());
    for (int i = 0; i < ndim && i < capacity; i++) out[i] = tensor->size(i);
    return ndim;
  })
}

G2T_API int g2t_tensor_strides(g2t_tensor tensor, int64_t* out, int capacity) {
  G2T_GUARD(-1, {
    int ndim = static_cast<int>(tensor->dim());
    for (int i = 0; i < ndim && i < capacity; i++) out[i] = tensor->stride(i);
    return ndim;
  })
}

G2T_API int64_t g2t_tensor_numel(g2t_tensor tensor) { G2T_GUARD(-1, { return tensor->numel(); }) }
G2T_API int g2t_tensor_dtype(g2t_tensor tensor) { G2T_GUARD(-1, { return static_cast<int>(tensor->scalar_type()); }) }
G2T_API int g2t_tensor_is_contiguous(g2t_tensor tensor) { G2T_GUARD(-1, { return tensor->is_contiguous() ? 1 : 0; }) }

// -1 for the CPU, the CUDA device index otherwise.
G2T_API int g2t_tensor_device(g2t_tensor tensor) {
  G2T_GUARD(-2, { return tensor->device().is_cpu() ? -1 : static_cast<int>(tensor->device().index()); })
}

// The address of the first element of a contiguous CPU tensor; valid while the tensor lives and is not resized.
G2T_API void* g2t_tensor_data_ptr(g2t_tensor tensor) {
  G2T_GUARD(nullptr, {
    TORCH_CHECK(tensor->device().is_cpu(), "data_ptr needs a CPU tensor");
    TORCH_CHECK(tensor->is_contiguous(), "data_ptr needs a contiguous tensor");
    return tensor->data_ptr();
  })
}

// Copies the tensor's elements, in row-major order, into destination (exactly nbytes long).
// A contiguous CPU tensor is copied once, straight from its storage.
G2T_API int g2t_tensor_copy_to(g2t_tensor tensor, void* destination, int64_t nbytes) {
  G2T_GUARD(-1, {
    at::Tensor source = tensor->device().is_cpu() ? tensor->contiguous() : tensor->to(torch::kCPU).contiguous();
    int64_t size = source.numel() * static_cast<int64_t>(source.element_size());
    TORCH_CHECK(nbytes == size, "the destination holds ", nbytes, " bytes but the tensor has ", size);
    if (size > 0) std::memcpy(destination, source.data_ptr(), size);
    return 0;
  })
}

// Overwrites the tensor's elements (in place, no autograd record) with nbytes from source.
G2T_API int g2t_tensor_copy_from(g2t_tensor tensor, const void* source, int64_t nbytes) {
  G2T_GUARD(-1, {
    int64_t size = tensor->numel() * static_cast<int64_t>(tensor->element_size());
    TORCH_CHECK(nbytes == size, "the source holds ", nbytes, " bytes but the tensor has ", size);
    at::NoGradGuard no_grad;
    if (tensor->device().is_cpu() && tensor->is_contiguous()) {
      if (size > 0) std::memcpy(tensor->data_ptr(), source, size);
    } else {
      auto staging = torch::empty(tensor->sizes(), tensor->options().device(torch::kCPU));
      if (size > 0) std::memcpy(staging.data_ptr(), source, size);
      tensor->copy_(staging);
    }
    return 0;
  })
}

G2T_API double g2t_tensor_item_double(g2t_tensor tensor) {
  G2T_GUARD(std::nan(""), { return tensor->item<double>(); })
}

G2T_API int64_t g2t_tensor_item_int64(g2t_tensor tensor) {
  G2T_GUARD(INT64_MIN, { return tensor->item<int64_t>(); })
}

G2T_TENSOR_FN(g2t_tensor_to_dtype, (g2t_tensor t, int dtype), t->to(static_cast<c10::ScalarType>(dtype)))
G2T_TENSOR_FN(g2t_tensor_contiguous, (g2t_tensor t), t->contiguous())
G2T_TENSOR_FN(g2t_tensor_clone, (g2t_tensor t), t->clone())
G2T_TENSOR_FN(g2t_tensor_detach, (g2t_tensor t), t->detach())
G2T_TENSOR_FN(g2t_tensor_alias, (g2t_tensor t), *t)

// device: -1 for the CPU, N for cuda:N.
G2T_API g2t_tensor g2t_tensor_to_device(g2t_tensor t, int device) {
  G2T_GUARD(nullptr, {
    if (device < 0) return g2t::wrap(t->to(torch::kCPU));
    TORCH_CHECK(torch::cuda::is_available(),
                "this libtorch has no CUDA support or sees no GPU: build the shim against a CUDA libtorch "
                "(TORCH_DIR=/path/to/libtorch scripts/setup.sh) on a machine with a GPU, or use --device cpu");
    TORCH_CHECK(device < static_cast<int>(torch::cuda::device_count()), "cuda:", device, " does not exist; this machine has ",
                torch::cuda::device_count(), " GPU(s)");
    return g2t::wrap(t->to(torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device))));
  })
}

G2T_API int g2t_tensor_requires_grad(g2t_tensor t) { G2T_GUARD(-1, { return t->requires_grad() ? 1 : 0; }) }

G2T_API int g2t_tensor_set_requires_grad(g2t_tensor t, int value) {
  G2T_GUARD(-1, {
    t->set_requires_grad(value != 0);
    return 0;
  })
}
