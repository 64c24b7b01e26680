// v2_warp_shuffle.cuh — layer norm v2: one warp per row (8 rows per block of 256), v1's three
// passes with the sums combined by butterfly shuffles (5 __shfl_xor_sync steps each, in
// registers): no shared memory, no barriers; each warp goes at its own pace.
//   What it buys: at the encoder's hidden 256 a lane has 8 elements, so the loads dominate
//   instead of the trees. Bytes as v1: 8n compulsory, 16n of requests (the 2nd and 3rd reads of a
//   1 KB row from L1). 16384 x 256: >= 10 us at 3.35 TB/s.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/layernorm/rows.cuh"

namespace cxr::cuda::layer_norm_v2 {

using namespace layer_norm_common;
inline constexpr int kWarps = 8;

__global__ void __launch_bounds__(kWarps * 32) kernel(LayerNormArgs a) {
  const int lane = int(threadIdx.x) % 32;
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {  // warp-uniform
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float s = 0.0f;
    for (int64_t c = lane; c < a.cols; c += 32) s += x[c];
    const float mean = warp_sum(s) / float(a.cols);
    float ss = 0.0f;
    for (int64_t c = lane; c < a.cols; c += 32) {
      const float d = x[c] - mean;
      ss += d * d;
    }
    const float rstd = rstd_of(a, warp_sum(ss));
    if (lane == 0) save_stats(a, row, mean, rstd);
    for (int64_t c = lane; c < a.cols; c += 32) y[c] = affine(a, c, x[c], mean, rstd);
  }
}

inline void run(const LayerNormArgs& a) {
  launch("layer_norm_v2_warp_shuffle", kernel, blocks_for(a.rows, kWarps), kWarps * 32, a);
}

}  // namespace cxr::cuda::layer_norm_v2
