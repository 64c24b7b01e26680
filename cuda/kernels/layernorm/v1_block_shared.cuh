// v1_block_shared.cuh — layer norm v1: one block of 128 threads per row, the reference's two
// passes for the statistics (sum, then the sum of squared deviations from the mean: no
// cancellation) and a third pass writing the output; each sum combined across the block in a
// fixed tree in shared memory (7 halving steps, a __syncthreads each). Coalesced: thread t reads
// columns t, t + 128, ...
//   n = rows x cols. Flops ~7 per element. Bytes: three reads of the row and one write, 8n
//   compulsory (+ 8 cols for w and b, L2-resident); passes 2 and 3 re-read a row of 1 KB at the
//   encoder's hidden 256, L1 hits when it stays there. The encoder at batch 32 x 512 tokens
//   (16384 x 256): 33.6 MB, >= 10 us at 3.35 TB/s. At cols 256 a thread has 2 elements, so the two
//   trees (14 shared round trips and 16 barriers per row) dominate, not the loads.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/layernorm/rows.cuh"

namespace cxr::cuda::layer_norm_v1 {

using namespace layer_norm_common;
inline constexpr int kThreads = 128;

__device__ float block_sum(float v, float* slots) {
  const int t = int(threadIdx.x);
  slots[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) slots[t] += slots[t + s];
    __syncthreads();
  }
  const float result = slots[0];
  __syncthreads();  // the slots are free for the next sum
  return result;
}

__global__ void __launch_bounds__(kThreads) kernel(LayerNormArgs a) {
  __shared__ float slots[kThreads];
  const int t = int(threadIdx.x);
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {  // the same bound for the whole block
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float s = 0.0f;
    for (int64_t c = t; c < a.cols; c += kThreads) s += x[c];
    const float mean = block_sum(s, slots) / float(a.cols);
    float ss = 0.0f;
    for (int64_t c = t; c < a.cols; c += kThreads) {
      const float d = x[c] - mean;
      ss += d * d;
    }
    const float rstd = rstd_of(a, block_sum(ss, slots));
    if (t == 0) save_stats(a, row, mean, rstd);
    for (int64_t c = t; c < a.cols; c += kThreads) y[c] = affine(a, c, x[c], mean, rstd);
  }
}

inline void run(const LayerNormArgs& a) {
  launch("layer_norm_v1_block_shared", kernel, blocks_for(a.rows, 1), kThreads, a);
}

}  // namespace cxr::cuda::layer_norm_v1
