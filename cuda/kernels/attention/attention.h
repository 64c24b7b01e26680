// attention.h — the attention ladder of the kernel study (docs/KERNELS.md): scaled dot-product attention forward and
// backward in float32 for the text encoder, one version per file in cuda/kernels/attention/: v1 unfused (Q K^T,
// softmax, P V on the SGEMM ladder, the S x S probabilities in memory), v2 fused and tiled with an online softmax
// (flash-attention style). Plain C++.
// Shapes: q, k, v, o and their gradients (B, H, S, D), read through a batch, a head and a row stride with d
// contiguous, so the encoder's (B, S, H, D) projections go in place; key_mask (B, S) additive, the encoder's
// (1 - attention_mask) * -10000; lse (B, H, S) contiguous.
//   scores = scale q k^T + key_mask[b],  P = softmax(scores) over the keys,  O = P V,
//   lse = log sum_j exp(scores_j)  (the fused backward recomputes P = exp(scores - lse) from it).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

// Element (b, h, s, d) at data[b * batch_stride + h * head_stride + s * row_stride + d].
template <typename T>
struct HeadsRef {
  T* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, row_stride = 0;
};

// The contiguous (B, H, S, D) layout.
template <typename T>
HeadsRef<T> contiguous_heads(T* data, int64_t H, int64_t S, int64_t D) {
  return {data, H * S * D, S * D, D};
}

struct AttentionArgs {
  int64_t batch = 0, heads = 0, seq = 0, head_dim = 0;
  float scale = 1;                  // 1/sqrt(D) in the encoder
  const float* key_mask = nullptr;  // (B, S) contiguous, added to every head's and query's scores; or none
  HeadsRef<const float> q, k, v;    // forward and backward inputs
  HeadsRef<float> o;                // forward: written; backward: read (v2's D_i = rowsum(dO * O))
  float* lse = nullptr;             // (B, H, S): forward writes it, backward reads it
  HeadsRef<const float> d_o;        // backward: the upstream gradient of O
  HeadsRef<float> d_q, d_k, d_v;    // backward: written (assigned, not accumulated)
  // Device scratch of attention_workspace_floats(version, args) floats. v1's forward leaves the probabilities there
  // for its backward, so a backward must follow the forward of the same version on the same workspace and inputs.
  float* workspace = nullptr;
};

const KernelLadder& attention_ladder();

// The floats of device scratch `version` needs for these sizes (v1: 2 B H S^2, v2: B H S).
size_t attention_workspace_floats(int version, const AttentionArgs& args);

// Runs `version` on the backend's stream (device pointers). Throws naming the version for an unknown one, and naming
// the sizes for negative ones, a null operand, or a head dimension the version does not support (v2: D <= 64).
void attention_forward(int version, const AttentionArgs& args);
void attention_backward(int version, const AttentionArgs& args);

}  // namespace cxr::cuda
