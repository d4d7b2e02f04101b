// Facts about the libtorch the shim was built against and runs with.
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <cstring>
#include "error.h"
#include "shim.h"

// Copies libtorch's version (for example "1.13.1") into buffer; returns the full length.
G2T_API int g2t_version(char* buffer, int capacity) {
  G2T_GUARD(-1, {
    const char* version = TORCH_VERSION;
    int length = static_cast<int>(std::strlen(version));
    if (buffer && capacity > 0) {
      int n = length < capacity - 1 ? length : capacity - 1;
      std::memcpy(buffer, version, n);
      buffer[n] = '\0';
    }
    return length;
  })
}
