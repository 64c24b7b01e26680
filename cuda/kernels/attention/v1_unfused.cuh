// v1_unfused.cuh — attention v1: the textbook form, as the encoder's ops compute it, on the SGEMM ladder's best
// version (sgemm.h) and two row kernels, every S x S intermediate in global memory.
//   forward:  P = Q K^T (sgemm); P = softmax(scale P + mask) in place, and lse; O = P V (sgemm)
//   backward: dV = P^T dO, dP = dO V^T (sgemm); dS = scale P * (dP - rowsum(P * dP)) in place;
//             dQ = dS K, dK = dS^T Q (sgemm)
//   flops per (b, h): 4 S^2 D forward + 8 S^2 D backward (the five GEMMs), ~5 S^2 in the row kernels.
//   bytes per (b, h), the S^2 terms: the forward writes the scores (1 S^2 floats), the softmax reads and writes them
//     (2; its three passes over a row re-read it from L1/L2), P V reads P (1); the backward reads P (dV), writes dP,
//     reads P and dP and writes dS, reads dS twice (dQ, dK): 7. So 11 S^2 floats = 44 S^2 bytes, in a workspace of
//     2 S^2 floats. At B 32, H 4, S 512: 1.48 GB, 0.44 ms of HBM3 at 3.35 TB/s on an H100, next to 25.8 GFLOP
//     (0.38 ms at 67 TFLOP/s FP32): the S^2 traffic alone is as large as the arithmetic floor. The row kernels' part
//     of it (5 S^2 floats, 0.2 ms) cannot overlap the GEMMs' arithmetic, being other launches.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/common.cuh"
#include "cuda/kernels/attention/attention.h"
#include "cuda/kernels/sgemm/sgemm.h"

namespace cxr::cuda::attention_v1 {

constexpr int kRowsPerBlock = 4;  // a warp per row of S x S

// One operand of the GEMMs for every (b, h): element (r, c) of head (b, h) at
// data[b * batch_stride + h * head_stride + r * row_stride + c * col_stride].
struct HeadMatrix {
  const float* data;
  int64_t batch_stride, head_stride, row_stride, col_stride;
};

// C = A B for every (b, h) on the SGEMM ladder's best version: one batched call over B * H when every operand's (b, h)
// offset is a multiple of one stride, else one call of H per batch entry.
inline void gemm_per_head(int64_t B, int64_t H, int64_t M, int64_t N, int64_t K, HeadMatrix a, HeadMatrix b,
                          HeadMatrix c) {
  auto uniform = [&](const HeadMatrix& m, int64_t& stride) {
    stride = H == 1 ? m.batch_stride : m.head_stride;
    return B == 1 || H == 1 || m.batch_stride == H * m.head_stride;
  };
  int64_t sa = 0, sb = 0, sc = 0;
  const bool one_call = uniform(a, sa) & uniform(b, sb) & uniform(c, sc);
  const int version = sgemm_ladder().best;
  SgemmArgs g;
  g.M = M, g.N = N, g.K = K;
  if (one_call) {
    g.batch = B * H;
    g.A = {a.data, a.row_stride, a.col_stride, sa};
    g.B = {b.data, b.row_stride, b.col_stride, sb};
    g.C = {const_cast<float*>(c.data), c.row_stride, c.col_stride, sc};
    return sgemm(version, g);
  }
  g.batch = H;
  for (int64_t z = 0; z < B; ++z) {
    g.A = {a.data + z * a.batch_stride, a.row_stride, a.col_stride, a.head_stride};
    g.B = {b.data + z * b.batch_stride, b.row_stride, b.col_stride, b.head_stride};
    g.C = {const_cast<float*>(c.data) + z * c.batch_stride, c.row_stride, c.col_stride, c.head_stride};
    sgemm(version, g);
  }
}

// A warp's sum or max, the same butterfly on every lane (a fixed order: deterministic).
__device__ inline float warp_sum(float x) {
  for (int m = 16; m > 0; m >>= 1) x += __shfl_xor_sync(0xffffffffu, x, m);
  return x;
}
__device__ inline float warp_max(float x) {
  for (int m = 16; m > 0; m >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, m));
  return x;
}

// Row r = (b * H + h) * S + i of the (B, H, S, S) scores, in place: x_j = scale s_j + mask[b][j],
// P_j = exp(x_j - max) / sum, lse = max + log(sum). Lane l takes j = l, l + 32, ...
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    softmax_rows(float* p, float* lse, const float* mask, float scale, int64_t rows, int64_t H, int64_t S) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= rows) return;  // whole warps leave together
  float* row = p + r * S;
  const float* m = mask ? mask + (r / (H * S)) * S : nullptr;
  float mx = -Limits<float>::infinity();
  for (int64_t j = lane; j < S; j += 32) mx = fmaxf(mx, scale * row[j] + (m ? m[j] : 0.0f));
  mx = warp_max(mx);
  float sum = 0;
  for (int64_t j = lane; j < S; j += 32) sum += expf(scale * row[j] + (m ? m[j] : 0.0f) - mx);
  sum = warp_sum(sum);
  const float inv = 1.0f / sum;
  for (int64_t j = lane; j < S; j += 32) row[j] = expf(scale * row[j] + (m ? m[j] : 0.0f) - mx) * inv;
  if (lane == 0) lse[r] = mx + logf(sum);
}

// The softmax's backward, folded with the scale of the scores: dS = scale P (dP - sum_j P dP), in place over dP, a
// warp per row.
__global__ void __launch_bounds__(32 * kRowsPerBlock)
    softmax_backward_rows(const float* p, float* ds, float scale, int64_t rows, int64_t S) {
  const int64_t r = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= rows) return;
  const float* pr = p + r * S;
  float* dr = ds + r * S;
  float dot = 0;
  for (int64_t j = lane; j < S; j += 32) dot += pr[j] * dr[j];
  dot = warp_sum(dot);
  for (int64_t j = lane; j < S; j += 32) dr[j] = scale * pr[j] * (dr[j] - dot);
}

inline unsigned row_blocks(int64_t rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  CXR_CHECK(blocks <= INT32_MAX, "attention v1: ", rows, " rows of scores need more than 2^31 blocks");
  return unsigned(blocks);
}

// The (B, H, S, S) probabilities and the second S x S buffer (dP, then dS) in the workspace.
inline HeadMatrix probs(const AttentionArgs& a, const float* base, bool transposed = false) {
  const int64_t S = a.seq;
  return {base, a.heads * S * S, S * S, transposed ? 1 : S, transposed ? S : 1};
}
inline HeadMatrix rows_of(const HeadsRef<const float>& x) {
  return {x.data, x.batch_stride, x.head_stride, x.row_stride, 1};
}
inline HeadMatrix rows_of(const HeadsRef<float>& x) { return {x.data, x.batch_stride, x.head_stride, x.row_stride, 1}; }
inline HeadMatrix transposed(const HeadsRef<const float>& x) {
  return {x.data, x.batch_stride, x.head_stride, 1, x.row_stride};
}

inline void forward(const AttentionArgs& a) {
  const int64_t B = a.batch, H = a.heads, S = a.seq, D = a.head_dim;
  float* p = a.workspace;
  gemm_per_head(B, H, S, S, D, rows_of(a.q), transposed(a.k), probs(a, p));  // Q K^T
  const int64_t rows = B * H * S;
  launch("attention_v1_softmax_rows", softmax_rows, dim3(row_blocks(rows)), dim3(32 * kRowsPerBlock), p, a.lse,
         a.key_mask, a.scale, rows, H, S);
  gemm_per_head(B, H, S, D, S, probs(a, p), rows_of(a.v), rows_of(a.o));  // P V
}

inline void backward(const AttentionArgs& a) {
  const int64_t B = a.batch, H = a.heads, S = a.seq, D = a.head_dim;
  const float* p = a.workspace;
  float* ds = a.workspace + B * H * S * S;
  gemm_per_head(B, H, S, D, S, probs(a, p, true), rows_of(a.d_o),
                rows_of(a.d_v));                                                // dV = P^T dO
  gemm_per_head(B, H, S, S, D, rows_of(a.d_o), transposed(a.v), probs(a, ds));  // dP = dO V^T
  const int64_t rows = B * H * S;
  launch("attention_v1_softmax_backward_rows", softmax_backward_rows, dim3(row_blocks(rows)), dim3(32 * kRowsPerBlock),
         p, ds, a.scale, rows, S);
  gemm_per_head(B, H, S, D, S, probs(a, ds), rows_of(a.k),
                rows_of(a.d_q));  // dQ = dS K
  gemm_per_head(B, H, S, D, S, probs(a, ds, true), rows_of(a.q),
                rows_of(a.d_k));  // dK = dS^T Q
}

}  // namespace cxr::cuda::attention_v1
