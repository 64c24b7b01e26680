// v3_split_welford.cuh — batch-norm statistics v3: each channel split into P parts (P from the
// shape alone, bn_stats_parts: ~1024 blocks in total for few channels, >= 8192 elements a part,
// <= 64), a block of 256 per (channel, part); one pass: each thread keeps Welford's running
// (count, mean, M2) over its elements, the block combines its 256 triples by Chan's formula in a
// fixed tree in shared memory and writes the part's triple; a second kernel folds each channel's
// P triples in order p = 0..P-1.
//   What it buys: parallelism for few channels (bn1: 8 x 64 = 512 blocks instead of 8), short
//   per-thread chains (bn1: 256 elements, so the worst-case error bound is (256 + 8 + 64) u
//   instead of v2's 16384 u), and one read of x instead of two (Welford needs no mean first).
//   What it costs: a division per element (Welford's d / n) and the combines' divisions, a 3 KB
//   shared tree, a second launch and C x P x 12 bytes of partials.
//   Bytes: one read, 4 N C HW. bn1 (64 x 8 x 256 x 256): 134 MB, >= 40 us at 3.35 TB/s; layer1
//   (64 x 8 x 128 x 128): 33.6 MB, >= 10 us; layer6 (64 x 192 x 4 x 4): 0.8 MB, launch-bound.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/bnstats/common.cuh"

namespace cxr::cuda::bn_stats_v3 {

using namespace bn_stats_common;
inline constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) kernel(BnStatsArgs a, int parts, Welford* partials) {
  __shared__ Welford slots[kThreads];
  const int t = int(threadIdx.x);
  const int64_t count = a.N * a.HW, chunk = part_chunk(count, parts, 1);
  const Part part = part_of(count, chunk, blockIdx.y);
  for (int64_t c = blockIdx.x; c < a.C; c += gridDim.x) {
    Welford w{0.0f, 0.0f, 0.0f};
    ChannelWalk walk(a, c, int(part.begin) + t, kThreads);
    for (int64_t i = part.begin + t; i < part.end; i += kThreads, walk.advance()) w = welford_add(w, walk.value());
    slots[t] = w;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s /= 2) {
      if (t < s) slots[t] = welford_combine(slots[t], slots[t + s]);
      __syncthreads();
    }
    if (t == 0) partials[c * parts + blockIdx.y] = slots[0];
    __syncthreads();  // slots[0] read before the next channel overwrites it
  }
}

inline void run(const BnStatsArgs& a) {
  const int parts = bn_stats_parts(a.N * a.HW, a.C);
  const Tensor buffer = partial_buffer(a.C, parts);
  Welford* partials = reinterpret_cast<Welford*>(buffer.data_ptr());
  launch("bn_stats_v3_split_welford", kernel, dim3(blocks_for(a.C, 1), unsigned(parts)), kThreads, a, parts, partials);
  fold_parts(a, parts, partials);
}

}  // namespace cxr::cuda::bn_stats_v3
