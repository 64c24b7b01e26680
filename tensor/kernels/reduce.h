// tensor/kernels/reduce.h — reduction kernels: sum, max/min, argmax/argmin, logsumexp, var, softmax
// (ops/reduce.h has the ops).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/reduce.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

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
