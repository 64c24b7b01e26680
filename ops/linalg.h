// linalg.h — matmul with torch.matmul semantics:
//   1-D·1-D dot; 2-D (M,K)·(K,N) -> (M,N); 1-D operands are promoted (prepend/append a 1) and the
//   added dim removed after; N-D: batched over the leading dims, which broadcast.
#pragma once

#include "tensor/kernels/linalg.h"
#include "tensor/tensor.h"

namespace cxr {

Tensor matmul(const Tensor& a, const Tensor& b);

// The named backward of matmul (exposed for auditing and kernel tests): with out = a·b and g the
// gradient of out, ga = g·b^T and gb = a^T·g, summed over broadcast batch dims to each input's
// shape. A gradient is computed only when its need_* flag is set (else it is undefined).
struct MatmulGrads {
  Tensor a, b;
};
MatmulGrads matmul_backward(const Tensor& grad_out, const Tensor& a, const Tensor& b, bool need_a = true,
                            bool need_b = true);

}  // namespace cxr
