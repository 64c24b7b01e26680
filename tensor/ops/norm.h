// norm.h — normalization layers' functional forms and dropout.
//   batch_norm: x (N, C) or (N, C, *); statistics per channel C over all other dims.
//   layer_norm: normalizes over the trailing dims given by normalized_shape.
#pragma once

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

}  // namespace cxr
