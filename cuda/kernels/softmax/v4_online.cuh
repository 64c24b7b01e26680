// v4_online.cuh — softmax v4: online softmax (Milakov and Gimelshein, "Online normalizer
// calculation for softmax", 2018), one warp per row: a single pass computes each lane's running
// (max m, sum s of exp(t - m)), rescaling s by exp(m_old - m_new) when the max grows; the lanes'
// pairs are combined by one butterfly of shuffles (m = max, s = s_a e^(m_a - m) + s_b e^(m_b - m));
// a second pass writes.
//   What it buys: two reads of the row instead of three (and one warp reduction instead of two),
//   which matters when a row does not stay in L1 between passes (long rows, or many in flight).
//   What it costs: an exp for each rescale (the running max of random data grows O(log k) times
//   in k elements, so few), a 2-value shuffle per step, and the combine's two exps.
//   Bytes: 8n compulsory, 12n of requests. 65536 x 512: >= 80 us from DRAM.
//   Its kernel also serves v5 for rows too long for v5's registers (cols > 1024), with the fused
//   logit t = scale x + mask read inline (kFused).
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/softmax/rows.cuh"

namespace cxr::cuda::softmax_v4 {

using namespace softmax_rows_common;
inline constexpr int kWarps = 8;

template <bool kFused>
__global__ void __launch_bounds__(kWarps * 32) kernel(SoftmaxArgs a) {
  const int lane = int(threadIdx.x) % 32;
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {
    const RowInput in = row_input(a, row);
    float* y = a.out + row * a.cols;
    Online st{neg_inf(), 0.0f};
    for (int64_t c = lane; c < a.cols; c += 32) st = online_add(st, kFused ? in.at(c) : in.x[c]);
    st = warp_online(st);
    const RowStats r = row_stats(a.log, st.m, st.s);
    for (int64_t c = lane; c < a.cols; c += 32) y[c] = softmax_value(a.log, kFused ? in.at(c) : in.x[c], r);
  }
}

template <bool kFused>
void launch_kernel(const SoftmaxArgs& a) {
  launch(kFused ? "softmax_v4_online_fused" : "softmax_v4_online", kernel<kFused>, blocks_for(a.rows, kWarps),
         kWarps * 32, a);
}

inline void run(const SoftmaxArgs& args) { launch_kernel<false>(unfuse(args)); }

}  // namespace cxr::cuda::softmax_v4
