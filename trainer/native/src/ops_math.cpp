// Elementwise arithmetic, reductions and in-place updates.
#include <torch/torch.h>
#include "error.h"
#include "shim.h"

// Binary ops, with broadcasting. op: 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 maximum, 6 minimum,
// 7 eq, 8 ne, 9 lt, 10 le, 11 gt, 12 ge, 13 logical_and, 14 logical_or.
G2T_API g2t_tensor g2t_binary(int op, g2t_tensor a, g2t_tensor b) {
  G2T_GUARD(nullptr, {
    switch (op) {
      case 0: return g2t::wrap(*a + *b);
      case 1: return g2t::wrap(*a - *b);
      case 2: return g2t::wrap(*a * *b);
      case 3: return g2t::wrap(*a / *b);
      case 4: return g2t::wrap(a->pow(*b));
      case 5: return g2t::wrap(torch::maximum(*a, *b));
      case 6: return g2t::wrap(torch::minimum(*a, *b));
      case 7: return g2t::wrap(a->eq(*b));
      case 8: return g2t::wrap(a->ne(*b));
      case 9: return g2t::wrap(a->lt(*b));
      case 10: return g2t::wrap(a->le(*b));
      case 11: return g2t::wrap(a->gt(*b));
      case 12: return g2t::wrap(a->ge(*b));
      case 13: return g2t::wrap(a->logical_and(*b));
      case 14: return g2t::wrap(a->logical_or(*b));
    }
    TORCH_CHECK(false, "unknown binary op ", op);
  })
}

// Tensor-scalar ops. op: 0 add, 1 sub, 2 mul, 3 div, 4 pow, 5 reverse sub (s - a), 6 reverse div (s / a),
// 7 eq, 8 ne, 9 lt, 10 le, 11 gt, 12 ge.
G2T_API g2t_tensor g2t_scalar_op(int op, g2t_tensor a, double s) {
  G2T_GUARD(nullptr, {
    switch (op) {
      case 0: return g2t::wrap(*a + s);
      case 1: return g2t::wrap(*a - s);
      case 2: return g2t::wrap(*a * s);
      case 3: return g2t::wrap(*a / s);
      case 4: return g2t::wrap(a->pow(s));
      case 5: return g2t::wrap(s - *a);
      case 6: return g2t::wrap(a->reciprocal() * s);
      case 7: return g2t::wrap(a->eq(s));
      case 8: return g2t::wrap(a->ne(s));
      case 9: return g2t::wrap(a->lt(s));
      case 10: return g2t::wrap(a->le(s));
      case 11: return g2t::wrap(a->gt(s));
      case 12: return g2t::wrap(a->ge(s));
    }
    TORCH_CHECK(false, "unknown scalar op ", op);
  })
}

// Unary ops. op: 0 neg, 1 exp, 2 log, 3 sqrt, 4 rsqrt, 5 tanh, 6 abs, 7 sigmoid, 8 relu, 9 square,
// 10 logical_not, 11 isnan, 12 isinf, 13 sign, 14 reciprocal.
G2T_API g2t_tensor g2t_unary(int op, g2t_tensor a) {
  G2T_GUARD(nullptr, {
    switch (op) {
      case 0: return g2t::wrap(a->neg());
      case 1: return g2t::wrap(a->exp());
      case 2: return g2t::wrap(a->log());
      case 3: return g2t::wrap(a->sqrt());
      case 4: return g2t::wrap(a->rsqrt());
      case 5: return g2t::wrap(a->tanh());
      case 6: return g2t::wrap(a->abs());
      case 7: return g2t::wrap(a->sigmoid());
      case 8: return g2t::wrap(a->relu());
      case 9: return g2t::wrap(a->square());
      case 10: return g2t::wrap(a->logical_not());
      case 11: return g2t::wrap(a->isnan());
      case 12: return g2t::wrap(a->isinf());
      case 13: return g2t::wrap(a->sign());
      case 14: return g2t::wrap(a->reciprocal());
    }
    TORCH_CHECK(false, "unknown unary op ", op);
  })
}

// Reductions over one dimension, or over everything when dim is INT32_MIN. op: 0 sum, 1 mean, 2 max
// (values), 3 min (values), 4 argmax, 5 argmin, 6 logsumexp, 7 any, 8 all.
G2T_API g2t_tensor g2t_reduce(int op, g2t_tensor a, int dim, int keepdim) {
  G2T_GUARD(nullptr, {
    bool all = dim == INT32_MIN;
    bool keep = keepdim != 0;
    switch (op) {
      case 0: return g2t::wrap(all ? a->sum() : a->sum(dim, keep));
      case 1: return g2t::wrap(all ? a->mean() : a->mean(dim, keep));
      case 2: return g2t::wrap(all ? a->max() : std::get<0>(a->max(dim, keep)));
      case 3: return g2t::wrap(all ? a->min() : std::get<0>(a->min(dim, keep)));
      case 4: return g2t::wrap(all ? a->argmax() : a->argmax(dim, keep));
      case 5: return g2t::wrap(all ? a->argmin() : a->argmin(dim, keep));
      case 6: return g2t::wrap(all ? a->flatten().logsumexp(0) : a->logsumexp(dim, keep));
      case 7: return g2t::wrap(all ? a->any() : a->any(dim, keep));
      case 8: return g2t::wrap(all ? a->all() : a->all(dim, keep));
    }
    TORCH_CHECK(false, "unknown reduction ", op);
  })
}

G2T_TENSOR_FN(g2t_matmul, (g2t_tensor a, g2t_tensor b), torch::matmul(*a, *b))
// bias + a @ b (for 2-D a and b), in one BLAS call.
G2T_TENSOR_FN(g2t_addmm, (g2t_tensor bias, g2t_tensor a, g2t_tensor b), torch::addmm(*bias, *a, *b))
G2T_TENSOR_FN(g2t_where, (g2t_tensor condition, g2t_tensor a, g2t_tensor b), torch::where(*condition, *a, *b))
G2T_TENSOR_FN(g2t_masked_fill, (g2t_tensor a, g2t_tensor mask, double value), a->masked_fill(*mask, value))
G2T_TENSOR_FN(g2t_clamp, (g2t_tensor a, double low, double high), a->clamp(low, high))
G2T_TENSOR_FN(g2t_triu, (g2t_tensor a, int64_t diagonal), a->triu(diagonal))
G2T_TENSOR_FN(g2t_tril, (g2t_tensor a, int64_t diagonal), a->tril(diagonal))
G2T_TENSOR_FN(g2t_cumsum, (g2t_tensor a, int64_t dim), a->cumsum(dim))

// In-place updates, never recorded by autograd. op: 0 add_ (a += alpha * b), 1 mul_ (a *= b),
// 2 copy_ (a = b), 3 lerp_ (a += alpha * (b - a)).
G2T_API int g2t_inplace(int op, g2t_tensor a, g2t_tensor b, double alpha) {
  G2T_GUARD(-1, {
    at::NoGradGuard no_grad;
    switch (op) {
      case 0: a->add_(*b, alpha); return 0;
      case 1: a->mul_(*b); return 0;
      case 2: a->copy_(*b); return 0;
      case 3: a->lerp_(*b, alpha); return 0;
    }
    TORCH_CHECK(false, "unknown in-place op ", op);
  })
}

// In-place scalar updates, never recorded by autograd. op: 0 fill_, 1 add_, 2 mul_, 3 zero_,
// 4 normal_(0, s), 5 uniform_(-s, s).
G2T_API int g2t_inplace_scalar(int op, g2t_tensor a, double s) {
  G2T_GUARD(-1, {
    at::NoGradGuard no_grad;
    switch (op) {
      case 0: a->fill_(s); return 0;
      case 1: a->add_(s); return 0;
      case 2: a->mul_(s); return 0;
      case 3: a->zero_(); return 0;
      case 4: a->normal_(0.0, s); return 0;
      case 5: a->uniform_(-s, s); return 0;
    }
    TORCH_CHECK(false, "unknown in-place scalar op ", op);
  })
}
