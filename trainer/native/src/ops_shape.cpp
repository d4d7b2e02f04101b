// Views, reshapes, joins and selections.
#include <torch/torch.h>
#include "error.h"
#include "shim.h"

G2T_TENSOR_FN(g2t_reshape, (g2t_tensor a, const int64_t* shape, int ndim), a->reshape(c10::IntArrayRef(shape, ndim)))
G2T_TENSOR_FN(g2t_view, (g2t_tensor a, const int64_t* shape, int ndim), a->view(c10::IntArrayRef(shape, ndim)))
G2T_TENSOR_FN(g2t_expand, (g2t_tensor a, const int64_t* shape, int ndim), a->expand(c10::IntArrayRef(shape, ndim)))
G2T_TENSOR_FN(g2t_permute, (g2t_tensor a, const int64_t* dims, int ndim), a->permute(c10::IntArrayRef(dims, ndim)))
G2T_TENSOR_FN(g2t_transpose, (g2t_tensor a, int64_t dim0, int64_t dim1), a->transpose(dim0, dim1))
G2T_TENSOR_FN(g2t_narrow, (g2t_tensor a, int64_t dim, int64_t start, int64_t length), a->narrow(dim, start, length))
G2T_TENSOR_FN(g2t_select, (g2t_tensor a, int64_t dim, int64_t index), a->select(dim, index))
G2T_TENSOR_FN(g2t_index_select, (g2t_tensor a, int64_t dim, g2t_tensor index), a->index_select(dim, *index))
G2T_TENSOR_FN(g2t_gather, (g2t_tensor a, int64_t dim, g2t_tensor index), a->gather(dim, *index))
G2T_TENSOR_FN(g2t_unsqueeze, (g2t_tensor a, int64_t dim), a->unsqueeze(dim))
G2T_TENSOR_FN(g2t_squeeze, (g2t_tensor a, int64_t dim), a->squeeze(dim))
G2T_TENSOR_FN(g2t_flatten, (g2t_tensor a, int64_t start, int64_t end), a->flatten(start, end))
G2T_TENSOR_FN(g2t_cat, (g2t_tensor* items, int count, int64_t dim), torch::cat(g2t::unwrap(items, count), dim))
G2T_TENSOR_FN(g2t_stack, (g2t_tensor* items, int count, int64_t dim), torch::stack(g2t::unwrap(items, count), dim))

// Splits into pieces of split_size along dim; writes up to capacity handles to out, returns the count.
G2T_API int g2t_split(g2t_tensor a, int64_t split_size, int64_t dim, g2t_tensor* out, int capacity) {
  G2T_GUARD(-1, {
    auto pieces = a->split(split_size, dim);
    TORCH_CHECK(static_cast<int>(pieces.size()) <= capacity, "split makes ", pieces.size(), " pieces, room for ", capacity);
    for (size_t i = 0; i < pieces.size(); i++) out[i] = g2t::wrap(std::move(pieces[i]));
    return static_cast<int>(pieces.size());
  })
}
