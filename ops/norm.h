// norm.h — normalization layers' functional forms and dropout.
//   batch_norm: x (N, C) or (N, C, *); statistics per channel C over all other dims.
//   layer_norm: normalizes over the trailing dims given by normalized_shape.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/kernels/norm.h"
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

}  // namespace cxr
