// The C ABI of the libtorch shim. Conventions, the same in every file:
//  - a tensor handle is an owned at::Tensor* created by the shim and released with g2t_tensor_free;
//  - a function that returns a handle returns NULL on failure, one that returns int or int64 returns a
//    negative value on failure; g2t_last_error() then holds the message;
//  - list arguments are (g2t_tensor* items, int count); outputs are written to caller-provided arrays;
//  - scalars cross as double or int64; dtypes as c10::ScalarType numbers;
//  - no C++ exception ever crosses this boundary.
#pragma once
#include <cstdint>
#include <utility>

#define G2T_API extern "C" __attribute__((visibility("default")))

namespace at { class Tensor; }
typedef at::Tensor* g2t_tensor;

#ifdef __cplusplus
#include <ATen/ATen.h>
namespace g2t {
// Moves a result into a new owned handle.
inline g2t_tensor wrap(at::Tensor&& tensor) { return new at::Tensor(std::move(tensor)); }
inline g2t_tensor wrap(const at::Tensor& tensor) { return new at::Tensor(tensor); }
std::vector<at::Tensor> unwrap(g2t_tensor* items, int count);
}
#endif

// A function returning a new tensor from an expression over its arguments, inside the error guard.
#define G2T_TENSOR_FN(name, params, ...) \
  G2T_API g2t_tensor name params { G2T_GUARD(nullptr, { return g2t::wrap(__VA_ARGS__); }) }
