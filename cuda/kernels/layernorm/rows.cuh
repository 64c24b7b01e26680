// rows.cuh — what the layer-norm versions share: the affine output of an element, the row's
// statistics (rstd from the sum of squared deviations), the warp's butterfly sum, and Welford's
// running (count, mean, M2) with Chan's combination. Rows are (rows, cols) row-major contiguous
// float32.
#pragma once

#include "cuda/common.cuh"
#include "cuda/device_math.cuh"
#include "cuda/kernels/welford.cuh"
#include "cuda/kernels/layernorm/layernorm.h"

namespace cxr::cuda::layer_norm_common {

inline constexpr unsigned kFullMask = 0xffffffffu;

// y of element c from x, the row's mean and rstd (the reference's order: (x - mean) rstd w + b).
__device__ __forceinline__ float affine(const LayerNormArgs& a, int64_t c, float x, float mean, float rstd) {
  float y = (x - mean) * rstd;
  if (a.weight != nullptr) y *= a.weight[c];
  if (a.bias != nullptr) y += a.bias[c];
  return y;
}

// rstd from the sum of squared deviations; the row's statistics saved (by one thread).
__device__ __forceinline__ float rstd_of(const LayerNormArgs& a, float ss) {
  return 1.0f / dm::sqrt(ss / float(a.cols) + a.eps);
}
__device__ __forceinline__ void save_stats(const LayerNormArgs& a, int64_t row, float mean, float rstd) {
  if (a.save_mean != nullptr) a.save_mean[row] = mean;
  if (a.save_rstd != nullptr) a.save_rstd[row] = rstd;
}

// Butterfly sum over a warp: every lane ends with the same bits (a + b == b + a exactly).
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Welford, welford_add, welford_combine: cuda/kernels/welford.cuh (shared with the other statistics ladder).
using cuda::Welford;
using cuda::welford_add;
using cuda::welford_combine;
// A warp's statistics: combined in a fixed down-sweep tree, lane 0's result broadcast.
__device__ __forceinline__ Welford warp_welford(Welford w) {
  for (int o = 16; o > 0; o /= 2) {
    const Welford other{__shfl_down_sync(kFullMask, w.n, o), __shfl_down_sync(kFullMask, w.mean, o),
                        __shfl_down_sync(kFullMask, w.m2, o)};
    w = welford_combine(w, other);  // lanes >= 32 - o combine with themselves: unused
  }
  return {__shfl_sync(kFullMask, w.n, 0), __shfl_sync(kFullMask, w.mean, 0), __shfl_sync(kFullMask, w.m2, 0)};
}

}  // namespace cxr::cuda::layer_norm_common
