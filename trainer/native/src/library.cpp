// Facts about the libtorch the shim runs with, threads, and the random generator.
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <cstring>
#include "error.h"
#include "shim.h"

namespace {
int copy_string(const std::string& text, char* buffer, int capacity) {
  int length = static_cast<int>(text.size());
  if (buffer && capacity > 0) {
    int n = length < capacity - 1 ? length : capacity - 1;
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
  }
  return length;
}
}

// Copies libtorch's version (for example "1.13.1") into buffer; returns the full length.
G2T_API int g2t_version(char* buffer, int capacity) { G2T_GUARD(-1, { return copy_string(TORCH_VERSION, buffer, capacity); }) }

// libtorch's build configuration (BLAS, LAPACK, OpenMP, ...) as at::show_config() prints it.
G2T_API int g2t_build_config(char* buffer, int capacity) { G2T_GUARD(-1, { return copy_string(at::show_config(), buffer, capacity); }) }

G2T_API int g2t_set_num_threads(int threads) {
  G2T_GUARD(-1, {
    at::set_num_threads(threads);
    return 0;
  })
}

G2T_API int g2t_get_num_threads() { G2T_GUARD(-1, { return at::get_num_threads(); }) }

G2T_API int g2t_cuda_device_count() { G2T_GUARD(-1, { return static_cast<int>(torch::cuda::device_count()); }) }

G2T_API int g2t_manual_seed(uint64_t seed) {
  G2T_GUARD(-1, {
    torch::manual_seed(seed);
    return 0;
  })
}

// The default CPU generator's full state as a uint8 tensor (for checkpoints).
G2T_API g2t_tensor g2t_generator_get_state() {
  G2T_GUARD(nullptr, {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    return g2t::wrap(generator.get_state());
  })
}

G2T_API int g2t_generator_set_state(g2t_tensor state) {
  G2T_GUARD(-1, {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(*state);
    return 0;
  })
}
