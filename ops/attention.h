// attention.h — scaled_dot_product_attention: softmax(scale q k^T + key_mask) v as one op, with
// its own backward, for the text encoder's self-attention on the CUDA backend (the fused kernels of
// the kernel study, cuda/kernels/attention/). Shapes:
//   q, k, v (B, H, S, D) -> out (B, H, S, D);  key_mask (B, S) additive (the encoder's
//   (1 - attention_mask) * -10000), broadcast over heads and queries, or undefined; no gradient
//   flows to it. Dropout on the probabilities has no place in the fused form: the composite path
//   (matmul, softmax, dropout, matmul) serves training with attention dropout.
#pragma once

#include "tensor/kernels/attention.h"
#include "tensor/tensor.h"

namespace cxr {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                    double scale);

// The named backward (exposed for auditing and kernel tests): with out and lse of the forward and
// g the gradient of out, the gradients of q, k and v (each computed only when its flag is set).
struct AttentionGrads {
  Tensor q, k, v;
};
AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k,
                                                     const Tensor& v, const Tensor& key_mask, double scale,
                                                     const Tensor& out, const Tensor& lse,
                                                     std::array<bool, 3> need = {true, true, true});

}  // namespace cxr
