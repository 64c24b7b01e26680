// tensor/kernels/loss.h — the cross-entropy kernels (ops/loss.h has the losses).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/loss.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

// log_probs (N, C, *) floating; target (N, *) int64; loss and grad_loss (N, *); any of them strided.
// forward: loss[n, *] = -log_probs[n, target[n, *], *], 0 where target == ignore_index; throws
// naming cross_entropy, the bad target and C when a target lies outside [0, C).
using CrossEntropyFn = void(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const Tensor& loss);
// backward: grad_logits[n, c, *] = grad_loss[n, *] * (exp(log_probs[n, c, *]) - [c == target[n, *]]),
// 0 where target == ignore_index. grad_logits is assigned, not accumulated (the engine sums).
using CrossEntropyBackwardFn = void(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                                    const Tensor& grad_loss, const Tensor& grad_logits);
extern KernelTable<CrossEntropyFn> cross_entropy_kernel;
extern KernelTable<CrossEntropyBackwardFn> cross_entropy_backward_kernel;

}  // namespace cxr
