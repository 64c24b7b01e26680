// v4_split_warp_vec.cuh — batch-norm statistics v4: v3's split and one pass, with float4 loads
// (when HW is a multiple of 4 and x 16-byte aligned: every float4 then lies inside one image's
// row of the channel; a separate instantiation, else scalar loads), each float4 folded as a batch
// of 4 (its own mean and M2, then one Chan combine: a division per 4 elements instead of per
// element), and the block's combine by warp shuffles (a fixed down-sweep, lane 0 keeps the warp's
// triple) then the 8 warps' triples folded in order by thread 0: 1 barrier instead of 8.
//   What it buys over v3: a quarter of the load instructions and of the divisions, and a shorter
//   combine. Bytes: as v3, one read: bn1 134 MB, >= 40 us at 3.35 TB/s.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/bnstats/common.cuh"

namespace cxr::cuda::bn_stats_v4 {

using namespace bn_stats_common;
inline constexpr int kThreads = 256, kWarps = kThreads / 32;
inline constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ Welford batch_of_4(float4 v) {
  const float mean = ((v.x + v.y) + (v.z + v.w)) * 0.25f;
  const float a = v.x - mean, b = v.y - mean, c = v.z - mean, d = v.w - mean;
  return {4.0f, mean, (a * a + b * b) + (c * c + d * d)};
}

template <bool kVec>
__global__ void __launch_bounds__(kThreads) kernel(BnStatsArgs a, int parts, Welford* partials) {
  __shared__ Welford warps[kWarps];
  const int t = int(threadIdx.x), lane = t % 32;
  constexpr int kWidth = kVec ? 4 : 1;  // elements a thread takes at a time
  const int64_t count = a.N * a.HW, chunk = part_chunk(count, parts, kWidth);
  const Part part = part_of(count, chunk, blockIdx.y);
  for (int64_t c = blockIdx.x; c < a.C; c += gridDim.x) {
    Welford w{0.0f, 0.0f, 0.0f};
    ChannelWalk walk(a, c, int(part.begin) + kWidth * t, kWidth * kThreads);
    for (int64_t i = part.begin + kWidth * t; i < part.end; i += kWidth * kThreads, walk.advance()) {
      if constexpr (kVec)
        w = welford_combine(w, batch_of_4(*reinterpret_cast<const float4*>(walk.pointer())));
      else
        w = welford_add(w, walk.value());
    }
    for (int o = 16; o > 0; o /= 2) {  // lane l takes lane l + o's triple: lane 0 ends with the warp's
      const Welford other{__shfl_down_sync(kFullMask, w.n, o), __shfl_down_sync(kFullMask, w.mean, o),
                          __shfl_down_sync(kFullMask, w.m2, o)};
      if (lane + o < 32) w = welford_combine(w, other);
    }
    if (lane == 0) warps[t / 32] = w;
    __syncthreads();
    if (t == 0) {
      Welford total = warps[0];
      for (int k = 1; k < kWarps; ++k) total = welford_combine(total, warps[k]);
      partials[c * parts + blockIdx.y] = total;
    }
    __syncthreads();  // warps[] read before the next channel overwrites it
  }
}

inline void run(const BnStatsArgs& a) {
  const int parts = bn_stats_parts(a.N * a.HW, a.C);
  const Tensor buffer = partial_buffer(a.C, parts);
  Welford* partials = reinterpret_cast<Welford*>(buffer.data_ptr());
  const dim3 grid(blocks_for(a.C, 1), unsigned(parts));
  const bool vec = a.HW % 4 == 0 && reinterpret_cast<uintptr_t>(a.x) % 16 == 0;
  if (vec)
    launch("bn_stats_v4_split_warp_vec", kernel<true>, grid, kThreads, a, parts, partials);
  else
    launch("bn_stats_v4_split_warp_vec", kernel<false>, grid, kThreads, a, parts, partials);
  fold_parts(a, parts, partials);
}

}  // namespace cxr::cuda::bn_stats_v4
