// The C ABI of the libtorch shim. Conventions, the same in every file:
//  - a tensor handle is an owned at::Tensor* created by the shim and released with g2t_tensor_free;
//  - a function that returns a handle returns NULL on failure, one that returns int returns 0 on
//    success and -1 on failure; g2t_last_error() then holds the message;
//  - no C++ exception ever crosses this boundary.
#pragma once
#include <cstdint>

#define G2T_API extern "C" __attribute__((visibility("default")))

namespace at { class Tensor; }
typedef at::Tensor* g2t_tensor;
