// Gradients: backward, access, zeroing, no-grad scopes and clipping.
#include <torch/torch.h>
#include <ATen/core/grad_mode.h>
#include "error.h"
#include "shim.h"

G2T_API int g2t_backward(g2t_tensor loss) {
  G2T_GUARD(-1, {
    loss->backward();
    return 0;
  })
}

// The gradient of t, or NULL with no error when it has none yet (check g2t_last_error to tell apart).
G2T_API g2t_tensor g2t_grad(g2t_tensor t) {
  G2T_GUARD(nullptr, {
    const auto& grad = t->grad();
    return grad.defined() ? g2t::wrap(grad) : nullptr;
  })
}

// Sets the gradients of all params to None (as optimizer.zero_grad(set_to_none=True)).
G2T_API int g2t_zero_grads(g2t_tensor* params, int count) {
  G2T_GUARD(-1, {
    for (int i = 0; i < count; i++) params[i]->mutable_grad().reset();
    return 0;
  })
}

// Gradient mode of this thread: returns the previous mode (1 enabled, 0 disabled).
G2T_API int g2t_set_grad_enabled(int enabled) {
  G2T_GUARD(-1, {
    bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled != 0);
    return previous ? 1 : 0;
  })
}

// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before clipping.
G2T_API double g2t_clip_grad_norm(g2t_tensor* params, int count, double max_norm) {
  G2T_GUARD(-1.0, {
    std::vector<at::Tensor> grads;
    for (int i = 0; i < count; i++)
      if (params[i]->grad().defined()) grads.push_back(params[i]->grad());
    if (grads.empty()) return 0.0;
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> norms;
    norms.reserve(grads.size());
    for (auto& g : grads) norms.push_back(g.norm(2));
    double total = torch::stack(norms).norm(2).item<double>();
    double coefficient = max_norm / (total + 1e-6);
    if (coefficient < 1.0)
      for (auto& g : grads) g.mul_(coefficient);
    return total;
  })
}
