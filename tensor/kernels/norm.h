// tensor/kernels/norm.h — batch norm, layer norm and dropout-mask kernels (ops/norm.h has the ops;
// docs/NORMALIZATION.md the math).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/norm.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

// batch_norm_forward: x (N, C, *) any strides; out like x. Writes save_mean and save_invstd (C,
// contiguous, x's dtype). training: batch mean and biased variance, and running_mean/running_var
// (if defined) updated in place with the unbiased variance; eval: the running statistics.
// weight/bias may be undefined.
using BatchNormForwardFn = void(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Tensor& running_mean, const Tensor& running_var, bool training,
                                double momentum, double eps, const Tensor& out, const Tensor& save_mean,
                                const Tensor& save_invstd);
// grad_x/grad_weight/grad_bias: preallocated outputs, or undefined when not wanted.
using BatchNormBackwardFn = void(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                 const Tensor& save_mean, const Tensor& save_invstd, bool training,
                                 const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
// layer_norm_forward: the last `normalized_ndim` dims of x are normalized; save_mean/save_rstd
// are contiguous with x's leading shape.
using LayerNormForwardFn = void(const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                                const Tensor& bias, double eps, const Tensor& out, const Tensor& save_mean,
                                const Tensor& save_rstd);
using LayerNormBackwardFn = void(const Tensor& grad_out, const Tensor& x, int64_t normalized_ndim,
                                 const Tensor& weight, const Tensor& save_mean, const Tensor& save_rstd,
                                 const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
// dropout_mask: mask element i (row-major) is 0 when Generator(seed).uniform(first_counter + i) < p,
// else scale.
using DropoutMaskFn = void(const Tensor& mask, double p, double scale, uint64_t seed, uint64_t first_counter);
extern KernelTable<BatchNormForwardFn> batch_norm_forward_kernel;
extern KernelTable<BatchNormBackwardFn> batch_norm_backward_kernel;
extern KernelTable<LayerNormForwardFn> layer_norm_forward_kernel;
extern KernelTable<LayerNormBackwardFn> layer_norm_backward_kernel;
extern KernelTable<DropoutMaskFn> dropout_mask_kernel;

}  // namespace cxr
