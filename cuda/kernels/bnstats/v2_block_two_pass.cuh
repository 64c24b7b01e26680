// v2_block_two_pass.cuh — batch-norm statistics v2: one block of 256 threads per channel, two
// passes (sum, then squared deviations from the mean) in float32, thread t taking elements
// t, t + 256, ... of the channel (coalesced within each image's HW pixels), the 256 partials
// combined in a fixed tree in shared memory (8 halving steps).
//   What it buys: C x 256 threads, coalesced loads, and the tree: the float32 sum's error is the
//   thread's own chain of count/256 additions plus 8 tree levels, not count (v1 needed double for
//   that). What it lacks: with few channels there are few blocks (bn1: 8 blocks on 132 SMs) and
//   each thread's chain is long (bn1: 16384 elements, a 1e-3 worst-case relative bound); it reads
//   x twice. bn1: 268 MB through 8 of the 132 SMs, bound by what 8 SMs can pull (3.35 TB/s / 132
//   = 25 GB/s is an SM's share; one SM alone gets a small multiple of it): ~0.5-1.3 ms, an
//   estimate; layer4 (64 x 64 x 16 x 16, 64 blocks): 8.4 MB, a few us.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/bnstats/common.cuh"

namespace cxr::cuda::bn_stats_v2 {

using namespace bn_stats_common;
inline constexpr int kThreads = 256;

__device__ float block_sum(float v, float* slots) {
  const int t = int(threadIdx.x);
  slots[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) slots[t] += slots[t + s];
    __syncthreads();
  }
  const float result = slots[0];
  __syncthreads();
  return result;
}

__global__ void __launch_bounds__(kThreads) kernel(BnStatsArgs a) {
  __shared__ float slots[kThreads];
  const int count = int(a.N * a.HW), t = int(threadIdx.x);
  for (int64_t c = blockIdx.x; c < a.C; c += gridDim.x) {  // the same bound for the whole block
    float s = 0.0f;
    ChannelWalk w(a, c, t, kThreads);
    for (int i = t; i < count; i += kThreads, w.advance()) s += w.value();
    const float mean = block_sum(s, slots) / float(count);
    float ss = 0.0f;
    ChannelWalk v(a, c, t, kThreads);
    for (int i = t; i < count; i += kThreads, v.advance()) {
      const float d = v.value() - mean;
      ss += d * d;
    }
    ss = block_sum(ss, slots);
    if (t == 0) a.mean[c] = mean, a.var[c] = ss / float(count);
  }
}

inline void run(const BnStatsArgs& a) { launch("bn_stats_v2_block_two_pass", kernel, blocks_for(a.C, 1), kThreads, a); }

}  // namespace cxr::cuda::bn_stats_v2
