// v5_fused_registers.cuh — softmax v5: the fused form the text encoder's attention computes,
// softmax(scale x + mask) with the (B, 1, 1, L) additive mask broadcast over heads and queries, in
// one kernel; one warp per row, the whole row held in registers (kPer floats a lane, kPer in
// {4, 8, 12, 16, 24, 32}: cols <= 1024), loaded once, as float4 when the rows allow (cols a multiple
// of 4, 16-byte aligned x, out and mask; a separate instantiation), else as coalesced scalars.
// With the row in registers the max and the sum are two passes over registers (two butterflies of
// 5 shuffles); v4's online pair is not needed, and costs more exps. Rows longer than 1024 run v4's
// online kernel with the logit fused.
//   What it buys over v4 run on a fused problem: (1) the fusion: v1..v4 first run the elementwise
//   t = scale x + mask (read x and the mask, write t: 8n bytes) and then read t again; v5 reads x
//   once and writes y once: 8n bytes plus the mask (B x L floats, L2-resident); (2) exactly one read
//   of the row whatever the cache does; (3) 16-byte accesses: a quarter of the load instructions.
//   Bytes at the encoder's batch 32, seq 512 (65536 x 512): 268 MB, >= 80 us at 3.35 TB/s; the
//   unfused path moves 537 MB (>= 160 us) before counting its second launch.
//   Registers (ptxas, sm_90): 32 at cols 320 (kPer 12, float4), 40 at 512 (kPer 16); no spills.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/softmax/rows.cuh"
#include "cuda/kernels/softmax/v4_online.cuh"

namespace cxr::cuda::softmax_v5 {

using namespace softmax_rows_common;
inline constexpr int kWarps = 8;
inline constexpr int64_t kMaxCols = 32 * 32;

// Element j (0 <= j < kPer) of a lane's share: with float4 loads, chunk j / 4 of the lane is
// columns 4 (lane + 32 (j / 4)) .. + 3; with scalars, column lane + 32 j. Both coalesce.
// (int: cols <= kMaxCols here.)
template <bool kVec>
__device__ __forceinline__ int column_of(int lane, int j) {
  return kVec ? 4 * (lane + 32 * (j / 4)) + j % 4 : lane + 32 * j;
}

template <int kPer, bool kVec>
__global__ void __launch_bounds__(kWarps * 32) kernel(SoftmaxArgs a) {
  static_assert(kPer % 4 == 0 && kPer <= 32, "a lane holds 4, 8, ..., 32 floats");
  const int lane = int(threadIdx.x) % 32, cols = int(a.cols);
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {
    const RowInput in = row_input(a, row);
    const float *x = in.x, *mask = in.mask;
    float* y = a.out + row * a.cols;
    float t[kPer];
    if constexpr (kVec) {
#pragma unroll
      for (int q = 0; q < kPer / 4; ++q) {
        const int c = column_of<true>(lane, 4 * q);
        float4 v = make_float4(neg_inf(), neg_inf(), neg_inf(), neg_inf());
        if (c < cols) {  // cols % 4 == 0: a chunk is wholly inside or outside
          v = *reinterpret_cast<const float4*>(x + c);
          if (a.scale != 1.0f) v = make_float4(v.x * a.scale, v.y * a.scale, v.z * a.scale, v.w * a.scale);
          if (mask) {
            const float4 k = *reinterpret_cast<const float4*>(mask + c);
            v = make_float4(v.x + k.x, v.y + k.y, v.z + k.z, v.w + k.w);
          }
        }
        t[4 * q] = v.x, t[4 * q + 1] = v.y, t[4 * q + 2] = v.z, t[4 * q + 3] = v.w;
      }
    } else {
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int c = column_of<false>(lane, j);
        t[j] = c < cols ? in.at(c) : neg_inf();
      }
    }
    float m = neg_inf();
#pragma unroll
    for (int j = 0; j < kPer; ++j) m = max_skipping_nan(m, t[j]);
    m = warp_max(m);
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j)
      if (column_of<kVec>(lane, j) < cols) s += dm::exp(t[j] - m);
    s = warp_sum(s);
    const RowStats r = row_stats(a.log, m, s);
#pragma unroll
    for (int j = 0; j < kPer; ++j) t[j] = softmax_value(a.log, t[j], r);
    if constexpr (kVec) {
#pragma unroll
      for (int q = 0; q < kPer / 4; ++q) {
        const int c = column_of<true>(lane, 4 * q);
        if (c < cols)
          *reinterpret_cast<float4*>(y + c) = make_float4(t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
      }
    } else {
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int c = column_of<false>(lane, j);
        if (c < cols) y[c] = t[j];
      }
    }
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <int kPer>
void launch_per(const SoftmaxArgs& a) {
  const unsigned grid = blocks_for(a.rows, kWarps);
  const bool vec = a.cols % 4 == 0 && aligned16(a.x) && aligned16(a.out) && (a.mask == nullptr || aligned16(a.mask));
  if (vec)
    launch("softmax_v5_fused_registers", kernel<kPer, true>, grid, kWarps * 32, a);
  else
    launch("softmax_v5_fused_registers", kernel<kPer, false>, grid, kWarps * 32, a);
}

inline void run(const SoftmaxArgs& a) {
  const int64_t per = (a.cols + 31) / 32;  // floats a lane holds
  if (per <= 4) return launch_per<4>(a);
  if (per <= 8) return launch_per<8>(a);
  if (per <= 12) return launch_per<12>(a);
  if (per <= 16) return launch_per<16>(a);
  if (per <= 24) return launch_per<24>(a);
  if (per <= 32) return launch_per<32>(a);
  softmax_v4::launch_kernel<true>(a);  // longer than kMaxCols: stream the row twice, online
}

}  // namespace cxr::cuda::softmax_v5
