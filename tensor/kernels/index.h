// tensor/kernels/index.h — index_select, gather and scatter_add kernels (ops/index.h has the ops).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/index.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

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
