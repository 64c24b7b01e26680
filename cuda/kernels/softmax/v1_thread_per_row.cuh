// v1_thread_per_row.cuh — softmax v1: one thread per row, three passes over the row straight
// from global memory (max, sum of exponentials, write), exactly the CPU reference's loops. The
// correct baseline the other versions are checked against on the device.
//   n = rows x cols. Flops: ~3 per element plus 2 expf (log: 1) — a few tens of instructions,
//   far below anything that binds. Bytes: the row is read three times and written once, 16n bytes
//   of requests, 8n compulsory. The accesses do not coalesce: the 32 lanes of a warp touch 32
//   different rows, cols x 4 bytes apart, so each load or store instruction is 32 L1 wavefronts
//   for 32 floats instead of one. At ~1 wavefront per clock and SM (H100: 132 SMs, 1.98 GHz), 4
//   accesses per element: the encoder's 65536 x 512 (n = 33.5M) takes >= 0.51 ms against 80 us
//   for its 268 MB of compulsory traffic at 3.35 TB/s. And the rows of all resident threads (2 KB
//   each, MBs per SM) do not stay in L1 between the passes: passes 2 and 3 come from L2.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/softmax/rows.cuh"

namespace cxr::cuda::softmax_v1 {

using namespace softmax_rows_common;
inline constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads) kernel(SoftmaxArgs a) {
  for (int64_t row = int64_t(blockIdx.x) * kThreads + threadIdx.x; row < a.rows; row += int64_t(gridDim.x) * kThreads) {
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float m = neg_inf();
    for (int64_t c = 0; c < a.cols; ++c) m = max_skipping_nan(m, x[c]);
    float s = 0.0f;
    for (int64_t c = 0; c < a.cols; ++c) s += dm::exp(x[c] - m);
    const RowStats r = row_stats(a.log, m, s);
    for (int64_t c = 0; c < a.cols; ++c) y[c] = softmax_value(a.log, x[c], r);
  }
}

inline void run(const SoftmaxArgs& args) {
  const SoftmaxArgs a = unfuse(args);
  launch("softmax_v1_thread_per_row", kernel, blocks_for(a.rows, kThreads), kThreads, a);
}

}  // namespace cxr::cuda::softmax_v1
