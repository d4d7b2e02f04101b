// Mixed precision: libtorch's autocast state (matmuls and linear layers in bf16, reductions in fp32).
#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include "error.h"
#include "shim.h"

// Turns autocast on or off for CPU (and CUDA where present) with dtype (a c10::ScalarType, e.g. bf16);
// returns whether CPU autocast was on before. Leaving autocast clears its cache of cast weights.
G2T_API int g2t_set_autocast(int enabled, int dtype) {
  G2T_GUARD(-1, {
    bool previous = at::autocast::is_cpu_enabled();
    auto type = static_cast<c10::ScalarType>(dtype);
    at::autocast::set_autocast_cpu_dtype(type);
    at::autocast::set_cpu_enabled(enabled != 0);
    if (torch::cuda::is_available()) {
      at::autocast::set_autocast_gpu_dtype(type);
      at::autocast::set_enabled(enabled != 0);
    }
    if (!enabled) at::autocast::clear_cache();
    return previous ? 1 : 0;
  })
}
