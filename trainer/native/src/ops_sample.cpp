// Sampling-time selections.
#include <torch/torch.h>
#include "error.h"
#include "shim.h"

// The k largest values along dim and their indices, written to values_out and indices_out.
G2T_API int g2t_topk(g2t_tensor a, int64_t k, int64_t dim, g2t_tensor* values_out, g2t_tensor* indices_out) {
  G2T_GUARD(-1, {
    auto [values, indices] = a->topk(k, dim);
    *values_out = g2t::wrap(std::move(values));
    *indices_out = g2t::wrap(std::move(indices));
    return 0;
  })
}

// Draws samples from each row of probabilities with the default generator.
G2T_TENSOR_FN(g2t_multinomial, (g2t_tensor probabilities, int64_t samples, int replacement),
              probabilities->multinomial(samples, replacement != 0))
G2T_TENSOR_FN(g2t_sort_indices, (g2t_tensor a, int64_t dim, int descending), std::get<1>(a->sort(dim, descending != 0)))
