// tensor/kernels/linalg.h — the batched GEMM kernel behind matmul (ops/linalg.h has the op).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/linalg.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

// Batched GEMM: a (B, M, K), b (B, K, N), out (B, M, N) contiguous; a and b may be strided views
// (e.g. transposed) — the kernel reads them through their strides.
using BmmFn = void(const Tensor& a, const Tensor& b, const Tensor& out);
extern KernelTable<BmmFn> bmm_kernel;

}  // namespace cxr
