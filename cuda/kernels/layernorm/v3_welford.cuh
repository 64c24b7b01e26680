// v3_welford.cuh — layer norm v3: one pass for the statistics, Welford's running (count, mean,
// M2) per lane (numerically stable, unlike sum and sum of squares), the lanes' triples combined
// by Chan's formula in a fixed down-sweep tree of shuffles and broadcast from lane 0; a second
// pass writes. One warp per row.
//   What it buys: two reads of the row instead of three, for rows that do not stay in L1 between
//   passes (long rows, many in flight). What it costs: a division per element (d / n), 3-value
//   shuffles and the combine's divisions: more arithmetic per element than v2, still far below the
//   memory floor's budget (~80 FP32 operations per element at 3.35 TB/s on 132 SMs).
//   Bytes: 8n compulsory, 12n of requests. 16384 x 256: >= 10 us.
//   Its kernel also serves v4 for rows too long for v4's registers (cols > 1024).
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/layernorm/rows.cuh"

namespace cxr::cuda::layer_norm_v3 {

using namespace layer_norm_common;
inline constexpr int kWarps = 8;

__global__ void __launch_bounds__(kWarps * 32) kernel(LayerNormArgs a) {
  const int lane = int(threadIdx.x) % 32;
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    Welford w{0.0f, 0.0f, 0.0f};
    for (int64_t c = lane; c < a.cols; c += 32) w = welford_add(w, x[c]);
    w = warp_welford(w);
    const float rstd = rstd_of(a, w.m2);
    if (lane == 0) save_stats(a, row, w.mean, rstd);
    for (int64_t c = lane; c < a.cols; c += 32) y[c] = affine(a, c, x[c], w.mean, rstd);
  }
}

inline void run(const LayerNormArgs& a) {
  launch("layer_norm_v3_welford", kernel, blocks_for(a.rows, kWarps), kWarps * 32, a);
}

}  // namespace cxr::cuda::layer_norm_v3
