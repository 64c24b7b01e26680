// reduce.h — reductions over any set of dims (empty dims = all dims) with keepdim, and the
// dim-wise normalizers softmax / log_softmax / logsumexp.
// x: any shape. Reducing dims D of shape S gives S with D removed (or set to 1 with keepdim).
#pragma once

#include "tensor/kernels/reduce.h"
#include "tensor/tensor.h"

namespace cxr {

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// max/min over dims (like torch.amax/amin): gradient split evenly among tied maxima.
Tensor max(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor min(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Index of the first maximum along dim (int64). Not differentiable.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
// Variance with Bessel-style correction: sum((x - mean)^2) / (N - correction).
Tensor var(const Tensor& x, const Dims& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// Sums a broadcast gradient back to `shape` (the inverse of expand): leading dims and dims where
// shape has size 1 are summed. Used by every broadcasting op's backward.
Tensor sum_to(const Tensor& x, const Shape& shape);

// Named backward functions (exposed for auditing and for checking other backends' kernels).
// y is the forward's output; the result is the gradient w.r.t. x.
//   softmax:     gx = y * (g - sum(g * y, dim))
//   log_softmax: gx = g - exp(y) * sum(g, dim)
Tensor softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim);
Tensor log_softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim);

}  // namespace cxr
