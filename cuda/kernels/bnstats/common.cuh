// common.cuh — what the batch-norm statistics versions share: the walk of one thread over a
// channel's elements (flat index i = n HW + hw at x[(n C + c) HW + hw], advanced by a fixed step
// without a division per element), Welford's running (count, mean, M2) and Chan's combination, and
// the split of a channel into parts with the fold of the parts (v3, v4).
#pragma once

#include "cuda/common.cuh"
#include "cuda/device_math.cuh"
#include "cuda/kernels/welford.cuh"
#include "cuda/indexing.cuh"
#include "cuda/kernels/bnstats/bnstats.h"

namespace cxr::cuda::bn_stats_common {

// A thread's position in channel c: element i = n HW + hw; advance() moves it by `step`. 32-bit
// (N HW < 2^24): the one division per thread is inline, not the 64-bit subroutine.
struct ChannelWalk {
  int n, hw, step_n, step_hw, HW;
  int64_t row_stride;  // C HW
  const float* base;   // x + c HW
  __device__ ChannelWalk(const BnStatsArgs& a, int64_t c, int first, int step)
      : n(first / int(a.HW)),
        hw(first % int(a.HW)),
        step_n(step / int(a.HW)),
        step_hw(step % int(a.HW)),
        HW(int(a.HW)),
        row_stride(a.C * a.HW),
        base(a.x + c * a.HW) {}
  __device__ __forceinline__ const float* pointer() const { return base + n * row_stride + hw; }
  __device__ __forceinline__ float value() const { return *pointer(); }
  __device__ __forceinline__ void advance() {
    hw += step_hw;
    n += step_n;
    if (hw >= HW) hw -= HW, ++n;
  }
};

// Welford, welford_add, welford_combine: cuda/kernels/welford.cuh (shared with the other statistics ladder).
using cuda::Welford;
using cuda::welford_add;
using cuda::welford_combine;

// Part p of a channel of `count` elements split into `parts` chunks of `chunk` (a multiple of
// `align`): [begin, end).
struct Part {
  int64_t begin, end;
};
__host__ __device__ __forceinline__ int64_t part_chunk(int64_t count, int parts, int64_t align) {
  const int64_t chunk = (count + parts - 1) / parts;
  return (chunk + align - 1) / align * align;
}
__device__ __forceinline__ Part part_of(int64_t count, int64_t chunk, int64_t p) {
  const int64_t begin = p * chunk < count ? p * chunk : count;
  return {begin, begin + chunk < count ? begin + chunk : count};
}

// The second pass of v3/v4: channel c's parts folded in order p = 0..P-1, one thread a channel,
// mean and var = M2 / n written (bnstats.cu).
void fold_parts(const BnStatsArgs& a, int parts, const Welford* partials);

// A device buffer for C x parts partial triples (lives until the stream is done with it).
Tensor partial_buffer(int64_t C, int parts);

}  // namespace cxr::cuda::bn_stats_common
