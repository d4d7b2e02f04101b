// AdamW over a whole parameter list in one native call.
#include <torch/torch.h>
#include <cmath>
#include "error.h"
#include "shim.h"

// One AdamW step (decoupled weight decay, as torch.optim.AdamW) for count parameters. exp_avg and
// exp_avg_sq are the moment buffers, one per parameter, same shapes; decay[i] is the weight decay of
// parameter i (0 for biases, norms and embeddings under the usual rule). step is the 1-based step
// number after this update. A parameter without a gradient is left as it is.
G2T_API int g2t_adamw_step(g2t_tensor* params, g2t_tensor* exp_avg, g2t_tensor* exp_avg_sq, const double* decay,
                           int count, int64_t step, double lr, double beta1, double beta2, double eps) {
  G2T_GUARD(-1, {
    TORCH_CHECK(step >= 1, "the AdamW step number starts at 1, got ", step);
    at::NoGradGuard no_grad;
    const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
    const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    for (int i = 0; i < count; i++) {
      at::Tensor& p = *params[i];
      const at::Tensor& grad = p.grad();
      if (!grad.defined()) continue;
      if (decay[i] != 0) p.mul_(1.0 - lr * decay[i]);
      exp_avg[i]->lerp_(grad, 1.0 - beta1);
      exp_avg_sq[i]->mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
      auto denom = (exp_avg_sq[i]->sqrt() / bias_correction2_sqrt).add_(eps);
      p.addcdiv_(*exp_avg[i], denom, -step_size);
    }
    return 0;
  })
}
