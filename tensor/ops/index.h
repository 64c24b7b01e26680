// index.h — joining, splitting and indexing.
//   index tensors are int64; out-of-range indices throw (naming the op, index and size).
#pragma once

#include <vector>

#include "tensor/dispatch.h"
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

// ---- kernels (per device) ----
// Each kernel validates its indices and throws naming `op` (the user-facing op), the index value
// and the size of the indexed dim: 0 <= index < size (no negative indices, as in PyTorch).
// index_select: out = x with dim replaced by index.numel(); index 1-D (any stride); out any strides.
using IndexSelectFn = void(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
// gather: out[..., j, ...] = x[..., index[..., j, ...], ...] along dim; out and index share a shape.
using GatherFn = void(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out);
// scatter_add (in place): dst[..., index[..., j, ...], ...] += src[..., j, ...] along dim; index and
// src share a shape (index may be a stride-0 expansion, which gives index_add).
using ScatterAddFn = void(const char* op, const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
extern KernelTable<IndexSelectFn> index_select_kernel;
extern KernelTable<GatherFn> gather_kernel;
extern KernelTable<ScatterAddFn> scatter_add_kernel;

}  // namespace cxr
