// The neural-network operations GPT-2 needs.
#include <torch/torch.h>
#include <cmath>
#include "error.h"
#include "shim.h"

G2T_TENSOR_FN(g2t_embedding, (g2t_tensor weight, g2t_tensor indices), torch::embedding(*weight, *indices))

// x @ weight + bias, with weight in GPT-2's Conv1D layout [in, out]; bias may be NULL.
G2T_API g2t_tensor g2t_conv1d_linear(g2t_tensor x, g2t_tensor weight, g2t_tensor bias) {
  G2T_GUARD(nullptr, {
    auto sizes = x->sizes().vec();
    auto flat = x->reshape({-1, sizes.back()});                             // (B*T, in)
    auto out = bias ? torch::addmm(*bias, flat, *weight) : flat.mm(*weight);  // (B*T, out)
    sizes.back() = weight->size(1);
    return g2t::wrap(out.view(sizes));
  })
}

// x @ weight^T + bias, with weight in torch.nn.Linear's layout [out, in]; bias may be NULL.
G2T_API g2t_tensor g2t_linear(g2t_tensor x, g2t_tensor weight, g2t_tensor bias) {
  G2T_GUARD(nullptr, { return g2t::wrap(torch::linear(*x, *weight, bias ? *bias : at::Tensor())); })
}

G2T_TENSOR_FN(g2t_layer_norm, (g2t_tensor x, g2t_tensor weight, g2t_tensor bias, double eps),
              torch::layer_norm(*x, {x->size(-1)}, *weight, *bias, eps))

// approximate: 0 exact (erf), 1 tanh approximation (GPT-2's gelu_new).
G2T_TENSOR_FN(g2t_gelu, (g2t_tensor x, int approximate), torch::gelu(*x, approximate ? "tanh" : "none"))
G2T_TENSOR_FN(g2t_softmax, (g2t_tensor x, int64_t dim), torch::softmax(*x, dim))
G2T_TENSOR_FN(g2t_log_softmax, (g2t_tensor x, int64_t dim), torch::log_softmax(*x, dim))
G2T_TENSOR_FN(g2t_dropout, (g2t_tensor x, double p, int train), torch::dropout(*x, p, train != 0))

// Mean cross entropy of logits (N, V) against targets (N), skipping targets equal to ignore_index.
G2T_TENSOR_FN(g2t_cross_entropy, (g2t_tensor logits, g2t_tensor targets, int64_t ignore_index),
              torch::nn::functional::cross_entropy(*logits, *targets,
                  torch::nn::functional::CrossEntropyFuncOptions().ignore_index(ignore_index)))

// Causal self-attention of q, k, v (B, nh, T, hs) → (B, nh, T, hs), with dropout on the weights when
// dropout_p > 0 (training). Where libtorch has a fused kernel (2.0 and later) it is used; libtorch 1.13
// gets the explicit form, which computes the same function. key_padding may be NULL, else a bool
// (B, T_k) tensor that is true where a key is padding.
G2T_API g2t_tensor g2t_causal_attention(g2t_tensor q, g2t_tensor k, g2t_tensor v, g2t_tensor key_padding,
                                        double dropout_p) {
  G2T_GUARD(nullptr, {
    const int64_t t_q = q->size(-2), t_k = k->size(-2);
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
    if (!key_padding) return g2t::wrap(at::scaled_dot_product_attention(*q, *k, *v, {}, dropout_p, /*is_causal=*/t_q == t_k));
#endif
    const double scale = 1.0 / std::sqrt(static_cast<double>(q->size(-1)));
    auto scores = torch::matmul(*q, k->transpose(-2, -1)) * scale;  // (B, nh, T_q, T_k)
    // Query i (the last t_q positions of t_k) sees keys up to its own position.
    auto causal = torch::ones({t_q, t_k}, torch::TensorOptions().dtype(torch::kBool)).triu(t_k - t_q + 1);
    auto masked = causal.to(scores.device());
    if (key_padding) masked = masked.logical_or(key_padding->view({key_padding->size(0), 1, 1, t_k}));
    // The lowest finite value, not -inf: a padded query that sees no key then gets uniform weights instead
    // of NaN, which would reach real positions through 0 * NaN in the next layer.
    // The scores' own dtype's lowest: float's overflows bf16 and fp16 under autocast.
    double lowest;
    switch (scores.scalar_type()) {
      case torch::kDouble: lowest = std::numeric_limits<double>::lowest(); break;
      case torch::kBFloat16: lowest = static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest()); break;
      case torch::kHalf: lowest = static_cast<double>(std::numeric_limits<c10::Half>::lowest()); break;
      default: lowest = std::numeric_limits<float>::lowest(); break;
    }
    scores = scores.masked_fill(masked, lowest);
    auto weights = torch::softmax(scores, -1);
    if (dropout_p > 0) weights = torch::dropout(weights, dropout_p, true);
    return g2t::wrap(torch::matmul(weights, *v));                       // (B, nh, T_q, hs)
  })
}

// 1 when the fused attention kernel is compiled in (libtorch 2.0+), 0 for the explicit form.
G2T_API int g2t_has_fused_attention() {
#if defined(TORCH_VERSION_MAJOR) && TORCH_VERSION_MAJOR >= 2
  return 1;
#else
  return 0;
#endif
}
