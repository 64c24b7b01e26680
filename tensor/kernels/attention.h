// tensor/kernels/attention.h — the fused scaled dot-product attention kernels behind
// scaled_dot_product_attention (ops/attention.h has the op and the math). The signatures and
// their KernelTables; the tables are defined next to the reference kernels in ops/attention.cpp.
//   q, k, v, grad_out: (B, H, S, D), any strides;  key_mask: (B, S) contiguous additive, or undefined
//   out, grad_q, grad_k, grad_v: (B, H, S, D) contiguous;  lse: (B, H, S) contiguous
// The forward writes out and lse = log sum_j exp(scores_j); the backward reads them (it recomputes
// the probabilities from lse) and assigns the three gradients.
#pragma once

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

using AttentionForwardFn = void(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                double scale, const Tensor& out, const Tensor& lse);
using AttentionBackwardFn = void(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& key_mask, double scale, const Tensor& out, const Tensor& lse,
                                 const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v);
extern KernelTable<AttentionForwardFn> attention_forward_kernel;
extern KernelTable<AttentionBackwardFn> attention_backward_kernel;

}  // namespace cxr
