// v3_warp_shuffle.cuh — softmax v3: one warp per row (8 rows per block of 256), the max and the
// sum combined across the warp's lanes by butterfly shuffles (__shfl_xor_sync, 5 steps each, in
// registers): no shared memory, no __syncthreads.
//   What it buys: the reductions cost 10 shuffles per row instead of v2's 14 shared-memory steps
//   and 16 barriers, and a warp works on one row without waiting for the other warps of its
//   block; at cols 320 each lane has 10 elements, at 512 16, so the loads, not the trees,
//   dominate. Loads coalesce as in v2 (lane l reads c = l, l + 32, ...).
//   Bytes: still three reads of the row (max, sum, write) and one write; the 2nd and 3rd reads hit
//   L1 while the row (1.3-2 KB) stays there: 8n compulsory, 16n of requests. 65536 x 512: >= 80 us
//   from DRAM; the extra L1 traffic (2 x 134 MB over 132 SMs) is far below L1's bandwidth.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/softmax/rows.cuh"

namespace cxr::cuda::softmax_v3 {

using namespace softmax_rows_common;
inline constexpr int kWarps = 8;

__global__ void __launch_bounds__(kWarps * 32) kernel(SoftmaxArgs a) {
  const int lane = int(threadIdx.x) % 32;
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {  // warp-uniform: every lane of a warp takes the same rows
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float m = neg_inf();
    for (int64_t c = lane; c < a.cols; c += 32) m = max_skipping_nan(m, x[c]);
    m = warp_max(m);
    float s = 0.0f;
    for (int64_t c = lane; c < a.cols; c += 32) s += dm::exp(x[c] - m);
    s = warp_sum(s);
    const RowStats r = row_stats(a.log, m, s);
    for (int64_t c = lane; c < a.cols; c += 32) y[c] = softmax_value(a.log, x[c], r);
  }
}

inline void run(const SoftmaxArgs& args) {
  const SoftmaxArgs a = unfuse(args);
  launch("softmax_v3_warp_shuffle", kernel, blocks_for(a.rows, kWarps), kWarps * 32, a);
}

}  // namespace cxr::cuda::softmax_v3
