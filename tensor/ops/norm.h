// norm.h — normalization layers' functional forms and dropout.
//   batch_norm: x (N, C) or (N, C, *); statistics per channel C over all other dims.
//   layer_norm: normalizes over the trailing dims given by normalized_shape.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

class Generator;

// training: normalize with the batch mean and biased variance, and (if running stats are
// defined) update them in place: running = (1 - momentum) * running + momentum * batch_stat,
// with the unbiased variance for running_var (as PyTorch). eval: use the running statistics.
// weight/bias (C) may be undefined (affine=false).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// Zeroes each element with probability p and scales survivors by 1/(1-p); identity when !training.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- named backward functions (exposed for auditing and kernel tests; derivations in
// docs/NORMALIZATION.md) ----
// The gradients of a normalization w.r.t. (x, weight, bias). output_mask says which to compute;
// the others are left undefined. weight may be undefined (taken as 1).
struct NormGrads {
  Tensor x, weight, bias;
};
// save_mean / save_invstd (C): the statistics the forward normalized with (batch statistics when
// training, running statistics when not).
//   training: gx = (w invstd / M) (M g - sum(g) - xhat sum(g xhat)),  M = N * prod(*)
//   eval:     gx = g w invstd
//   both:     gw = sum(g xhat), gb = sum(g)   (sums over every dim but C)
NormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                              const Tensor& save_mean, const Tensor& save_invstd, bool training,
                              std::array<bool, 3> output_mask = {true, true, true});
// save_mean / save_rstd: one per row, shaped like x's leading (non-normalized) dims; D = numel of
// normalized_shape.  gx = (rstd / D) (D gxh - sum(gxh) - xhat sum(gxh xhat)), gxh = g w, per row;
//   gw = sum over rows of g xhat, gb = sum over rows of g.
NormGrads layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Shape& normalized_shape,
                              const Tensor& weight, const Tensor& save_mean, const Tensor& save_rstd,
                              std::array<bool, 3> output_mask = {true, true, true});
// mask_scaled holds 0 for dropped elements and 1/(1-p) for kept ones: gx = g * mask_scaled.
Tensor dropout_backward(const Tensor& grad_out, const Tensor& mask_scaled);

// ---- kernels (per device); statistics accumulate in double on the CPU ----
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
