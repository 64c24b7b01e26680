// reduce.h — reductions over any set of dims (empty dims = all dims) with keepdim, and the
// dim-wise normalizers softmax / log_softmax / logsumexp.
// x: any shape. Reducing dims D of shape S gives S with D removed (or set to 1 with keepdim).
#pragma once

#include "tensor/dispatch.h"
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

// ---- kernels ----
// Reduce kernels write the keepdim form: out has x's shape with the reduced dims set to 1, and
// which dims are reduced is read off out's shape. x may be strided; out is contiguous.
// sum: accumulates in double (int64 for int64).
using SumFn = void(const Tensor& x, const Tensor& out);
extern KernelTable<SumFn> sum_kernel;
// max/min (amax/amin): NaN propagates; float32/float64/int64. Reduced dims must be non-empty.
using ExtremumFn = void(bool is_max, const Tensor& x, const Tensor& out);
extern KernelTable<ExtremumFn> extremum_kernel;
// argmax/argmin along `dim`: out (int64) has x's shape with dim set to 1; first index of the
// extreme, a NaN counts as the extreme (as PyTorch).
using ArgExtremumFn = void(bool is_max, const Tensor& x, int64_t dim, const Tensor& out);
extern KernelTable<ArgExtremumFn> arg_extremum_kernel;
// logsumexp: m + log(sum(exp(x - m))), m the max (0 where the max is infinite); double accumulation.
using LogsumexpFn = void(const Tensor& x, const Tensor& out);
extern KernelTable<LogsumexpFn> logsumexp_kernel;
// var: two passes in double (mean, then squared deviations), divided by max(0, N - correction).
using VarFn = void(const Tensor& x, const Tensor& out, int64_t correction);
extern KernelTable<VarFn> var_kernel;
// softmax / log_softmax along `dim` (log = true for log_softmax); out has x's shape.
using SoftmaxFn = void(const Tensor& x, int64_t dim, bool log, const Tensor& out);
extern KernelTable<SoftmaxFn> softmax_kernel;

}  // namespace cxr
