// Tensor lifetime, metadata and the copies between C# memory and tensors.
#include <torch/torch.h>
#include <cstring>
#include "error.h"
#include "shim.h"

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

G2T_API void g2t_tensor_free(g2t_tensor tensor) { delete tensor; }

G2T_API int g2t_tensor_ndim(g2t_tensor tensor) {
  G2T_GUARD(-1, { return static_cast<int>(tensor->dim()); })
}

// Writes up to capacity sizes into shape; returns the number of dimensions.
G2T_API int g2t_tensor_shape(g2t_tensor tensor, int64_t* shape, int capacity) {
  G2T_GUARD(-1, {
    int ndim = static_cast<int>(tensor->dim());
    for (int i = 0; i < ndim && i < capacity; i++) shape[i] = tensor->size(i);
    return ndim;
  })
}

G2T_API int g2t_tensor_dtype(g2t_tensor tensor) {
  G2T_GUARD(-1, { return static_cast<int>(tensor->scalar_type()); })
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
