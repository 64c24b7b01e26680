// rows.cuh — what the softmax versions share: the value of an element (the fused logit
// t = scale x + mask), the reference's NaN-skipping max, the output expression, the warp
// reductions by butterfly shuffles, the online (max, sum) pair, and the elementwise
// scale-and-mask pass that v1..v4 run before a fused problem (the engine's unfused path).
// Rows are (rows, cols) row-major contiguous float32; "a row" is one softmax line.
#pragma once

#include "cuda/common.cuh"
#include "cuda/device_math.cuh"
#include "cuda/kernels/softmax/softmax.h"

namespace cxr::cuda::softmax_rows_common {

inline constexpr unsigned kFullMask = 0xffffffffu;

__host__ __device__ __forceinline__ float neg_inf() { return -Limits<float>::infinity(); }

// The reference's std::max(m, v) order: a NaN v is passed over (the NaN reaches the sum instead,
// and the whole row becomes NaN, as on the CPU).
__device__ __forceinline__ float max_skipping_nan(float m, float v) { return m < v ? v : m; }

// One row's input: t = scale x + mask (the fused form; scale 1 and no mask unless fused), with the
// row's mask row found once per row, by a 32-bit division (rows < 2^31, checked by softmax_rows):
// a 64-bit one is a called subroutine on the device, whose calling convention costs spills.
struct RowInput {
  const float* x;
  const float* mask;  // the row's mask row, or null
  float scale;
  __device__ __forceinline__ float at(int64_t c) const {
    float t = scale == 1.0f ? x[c] : x[c] * scale;
    if (mask != nullptr) t += mask[c];
    return t;
  }
};
__device__ __forceinline__ RowInput row_input(const SoftmaxArgs& a, int64_t row) {
  if (a.mask == nullptr) return {a.x + row * a.cols, nullptr, a.scale};
  const uint32_t mask_row = uint32_t(row) / uint32_t(a.rows_per_mask);
  return {a.x + row * a.cols, a.mask + int64_t(mask_row) * a.cols, a.scale};
}

// The row's finished statistics: its max m, and 1/s or log s (s the sum of exp(t - m)): one
// division (or log) per row, a multiply per element (no per-element division, whose slow path is
// a call that costs registers).
struct RowStats {
  float m, inv_s, log_s;
};
__device__ __forceinline__ RowStats row_stats(bool log, float m, float s) {
  return {m, log ? 0.0f : 1.0f / s, log ? dm::log(s) : 0.0f};
}
// The output of an element from t.
__device__ __forceinline__ float softmax_value(bool log, float t, const RowStats& r) {
  return log ? (t - r.m) - r.log_s : dm::exp(t - r.m) * r.inv_s;
}

// Butterfly reductions over a warp: after step o every lane holds the combination of its 2o-lane
// group, and since a + b == b + a exactly, every lane ends with the same bits (a fixed tree).
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o /= 2) v = max_skipping_nan(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Online softmax statistics (Milakov and Gimelshein 2018): the max m of the elements seen and
// s = sum exp(t - m). A zero s (nothing seen, or only -inf) is rescaled to zero without computing
// exp(-inf - -inf); a NaN s stays NaN, as the reference's sum would.
struct Online {
  float m, s;
};
__device__ __forceinline__ float rescale(float s, float m_old, float m_new) {
  return s == 0.0f ? 0.0f : s * dm::exp(m_old - m_new);
}
__device__ __forceinline__ Online online_add(Online a, float t) {
  const float m = max_skipping_nan(a.m, t);
  return {m, rescale(a.s, a.m, m) + (t == neg_inf() ? 0.0f : dm::exp(t - m))};
}
__device__ __forceinline__ Online online_combine(Online a, Online b) {
  const float m = max_skipping_nan(a.m, b.m);
  return {m, rescale(a.s, a.m, m) + rescale(b.s, b.m, m)};
}
// The same pair on every lane: combine(a, b) and combine(b, a) give the same bits.
__device__ __forceinline__ Online warp_online(Online v) {
  for (int o = 16; o > 0; o /= 2) {
    const Online other{__shfl_xor_sync(kFullMask, v.m, o), __shfl_xor_sync(kFullMask, v.s, o)};
    v = online_combine(v, other);
  }
  return v;
}

// The engine's unfused path for a fused problem (v1..v4 and the cuDNN yardstick): when `a` is fused,
// launches the elementwise out = scale x + mask and returns the plain softmax, in place on out,
// that is left to do; else returns `a` (softmax.cu).
SoftmaxArgs unfuse(const SoftmaxArgs& a);

// Blocks for a grid-stride loop with one unit (a row) per block.
inline unsigned grid_for(int64_t units) { return blocks_for(units, 1); }

}  // namespace cxr::cuda::softmax_rows_common
