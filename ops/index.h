// index.h — joining, splitting and indexing.
//   index tensors are int64; out-of-range indices throw (naming the op, index and size).
#pragma once

#include <vector>

#include "tensor/kernels/index.h"
#include "tensor/tensor.h"

namespace cxr {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);
// Pieces are views (narrow) of x; the last piece may be smaller.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
// out = x.index_select(dim, index): index 1-D int64. Backward: scatter-add (index_add).
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (torch.gather). Backward: scatter-add.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// weight (V, D), indices int64 of any shape -> (*indices.shape, D). Backward: scatter-add into
// rows of grad_weight (rows repeated in indices accumulate).
Tensor embedding(const Tensor& weight, const Tensor& indices);

// ---- named backward functions (exposed for auditing and kernel tests) ----
// gx = zeros(input_shape); gx.index_add_(dim, index, grad_out)   (repeated indices accumulate)
Tensor index_select_backward(const Tensor& grad_out, const Shape& input_shape, int64_t dim, const Tensor& index);
// gx = zeros(input_shape); gx.scatter_add_(dim, index, grad_out)
Tensor gather_backward(const Tensor& grad_out, const Shape& input_shape, int64_t dim, const Tensor& index);
// gw = zeros(num_embeddings, D); gw[indices[i]] += grad_out[i] for every position i of indices
Tensor embedding_backward(const Tensor& grad_out, const Tensor& indices, int64_t num_embeddings);

}  // namespace cxr
