// v2_block_shared.cuh — softmax v2: one block of 128 threads per row; each thread strides over the
// row (c = t, t + 128, ...), so a warp's loads are 32 consecutive floats (coalesced, one 128-byte
// line per instruction), and the block combines its 128 partial maxima, then partial sums, in a
// fixed tree in shared memory (7 halving steps, a __syncthreads each).
//   What it buys: coalescing. Every sector fetched is used whole, so the compulsory 8n bytes
//   (plus the 2nd and 3rd reads of a 1.3-2 KB row, L1 hits) is what reaches DRAM: 65536 x 512,
//   268 MB, >= 80 us at 3.35 TB/s.
//   What it costs: 2 x 8 barriers per row, and short rows leave threads idle: at cols 320 a thread
//   has 2.5 elements, so the block spends more time in the trees (14 shared round trips and
//   barriers) than in loading; 128 threads and 512 B of shared memory a block, up to 16 blocks
//   (rows) in flight per SM. Why 128, not 256: the encoder's rows are 320 and 512 long.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/softmax/rows.cuh"

namespace cxr::cuda::softmax_v2 {

using namespace softmax_rows_common;
inline constexpr int kThreads = 128;

// The block's combination of v (every thread's), lanes t and t + s folded for s = 64, 32, ..., 1.
template <typename Combine>
__device__ float block_reduce(float v, float* slots, const Combine& combine) {
  const int t = int(threadIdx.x);
  slots[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s /= 2) {
    if (t < s) slots[t] = combine(slots[t], slots[t + s]);
    __syncthreads();
  }
  const float result = slots[0];
  __syncthreads();  // the slots are free for the next reduction
  return result;
}

__global__ void __launch_bounds__(kThreads) kernel(SoftmaxArgs a) {
  __shared__ float slots[kThreads];
  const int t = int(threadIdx.x);
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {  // the same bound for the whole block
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float m = neg_inf();
    for (int64_t c = t; c < a.cols; c += kThreads) m = max_skipping_nan(m, x[c]);
    m = block_reduce(m, slots, [](float p, float q) { return max_skipping_nan(p, q); });
    float s = 0.0f;
    for (int64_t c = t; c < a.cols; c += kThreads) s += dm::exp(x[c] - m);
    s = block_reduce(s, slots, [](float p, float q) { return p + q; });
    const RowStats r = row_stats(a.log, m, s);
    for (int64_t c = t; c < a.cols; c += kThreads) y[c] = softmax_value(a.log, x[c], r);
  }
}

inline void run(const SoftmaxArgs& args) {
  const SoftmaxArgs a = unfuse(args);
  launch("softmax_v2_block_shared", kernel, grid_for(a.rows), kThreads, a);
}

}  // namespace cxr::cuda::softmax_v2
