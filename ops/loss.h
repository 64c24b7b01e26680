// loss.h — losses, numerically stable forms.
//   cross_entropy: logits (N, C) or (N, C, d1, ...), target int64 (N) or (N, d1, ...) class indices.
#pragma once

#include "tensor/kernels/loss.h"
#include "tensor/tensor.h"

namespace cxr {

enum class Reduction { None, Mean, Sum };

// -log_softmax(logits)[target]; targets equal to ignore_index contribute nothing and are excluded
// from the mean's denominator (PyTorch semantics: all ignored gives a NaN mean and a zero gradient).
// A single sample, (C) logits with a 0-dim target, is accepted too. Targets outside [0, C) throw.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::Mean);
// max(x, 0) - x*t + log(1 + exp(-|x|)); pos_weight (optional, broadcast over the last dim)
// weights the positive term as in PyTorch.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean,
                                        const Tensor& pos_weight = Tensor());
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

// Named backward of cross_entropy (exposed for auditing and for checking other backends' kernels):
// the gradient w.r.t. the logits, given log_probs = log_softmax(logits, 1),
//   gx[n, c, *] = scale[n, *] * (softmax[n, c, *] - [c == target[n, *]]),  0 where target is ignored,
// scale = grad_out (None; Sum broadcast) or grad_out / total_weight (Mean), total_weight = the
// number of non-ignored targets (a 0-dim tensor; undefined unless Mean).
Tensor cross_entropy_backward(const Tensor& grad_out, const Tensor& log_probs, const Tensor& target,
                              int64_t ignore_index, Reduction reduction, const Tensor& total_weight);

}  // namespace cxr
