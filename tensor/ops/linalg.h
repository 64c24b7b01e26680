// linalg.h — matmul with torch.matmul semantics:
//   1-D·1-D dot; 2-D (M,K)·(K,N) -> (M,N); 1-D operands are promoted (prepend/append a 1) and the
//   added dim removed after; N-D: batched over the leading dims, which broadcast.
#pragma once

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

Tensor matmul(const Tensor& a, const Tensor& b);

// ---- kernels ----
// Batched GEMM: a (B, M, K), b (B, K, N), out (B, M, N) contiguous; a and b may be strided views
// (e.g. transposed) — the kernel reads them through their strides.
using BmmFn = void(const Tensor& a, const Tensor& b, const Tensor& out);
extern KernelTable<BmmFn> bmm_kernel;

}  // namespace cxr
