// loss.h — losses, numerically stable forms.
//   cross_entropy: logits (N, C) or (N, C, d1, ...), target int64 (N) or (N, d1, ...) class indices.
#pragma once

#include "tensor/tensor.h"

namespace cxr {

enum class Reduction { None, Mean, Sum };

// -log_softmax(logits)[target]; targets equal to ignore_index contribute nothing and are excluded
// from the mean's denominator (PyTorch semantics).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::Mean);
// max(x, 0) - x*t + log(1 + exp(-|x|)); pos_weight (optional, broadcast over the last dim)
// weights the positive term as in PyTorch.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean,
                                        const Tensor& pos_weight = Tensor());
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace cxr
