// v4_fused_registers.cuh — layer norm v4: one warp per row with the whole row in registers (kPer
// floats a lane, kPer in {4, 8, 16, 32}: cols <= 1024), read once, as float4 when the rows allow
// (cols a multiple of 4, 16-byte aligned x, out, weight and bias; a separate instantiation), else
// as coalesced scalars; mean, squared deviations and the affine output all from registers: the
// exact two-pass statistics of v1/v2 at the one read of v3, no per-element division. Rows longer
// than 1024 run v3's Welford kernel.
//   What it buys: exactly one read of the row and one write whatever the cache does, a quarter of
//   the load and store instructions (float4), w and b as float4 too.
//   Bytes: 8n + 8 cols. The encoder (hidden 256) at batch 32 x 320 tokens (10240 x 256): 21 MB,
//   >= 6.3 us; at 512 tokens (16384 x 256): 33.6 MB, >= 10 us at 3.35 TB/s.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/layernorm/rows.cuh"
#include "cuda/kernels/layernorm/v3_welford.cuh"

namespace cxr::cuda::layer_norm_v4 {

using namespace layer_norm_common;
inline constexpr int kWarps = 8;

// Element j of a lane's share: with float4, columns 4 (lane + 32 (j / 4)) + j % 4; with scalars,
// column lane + 32 j. (int: cols <= 1024 here.)
template <bool kVec>
__device__ __forceinline__ int column_of(int lane, int j) {
  return kVec ? 4 * (lane + 32 * (j / 4)) + j % 4 : lane + 32 * j;
}

template <int kPer, bool kVec>
__global__ void __launch_bounds__(kWarps * 32) kernel(LayerNormArgs a) {
  static_assert(kPer % 4 == 0 && kPer <= 32, "a lane holds 4, 8, 16 or 32 floats");
  const int lane = int(threadIdx.x) % 32, cols = int(a.cols);
  for (int64_t row = int64_t(blockIdx.x) * kWarps + threadIdx.x / 32; row < a.rows;
       row += int64_t(gridDim.x) * kWarps) {
    const float* x = a.x + row * a.cols;
    float* y = a.out + row * a.cols;
    float v[kPer];
    if constexpr (kVec) {
#pragma unroll
      for (int q = 0; q < kPer / 4; ++q) {
        const int c = column_of<true>(lane, 4 * q);
        const float4 f = c < cols ? *reinterpret_cast<const float4*>(x + c) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        v[4 * q] = f.x, v[4 * q + 1] = f.y, v[4 * q + 2] = f.z, v[4 * q + 3] = f.w;
      }
    } else {
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int c = column_of<false>(lane, j);
        v[j] = c < cols ? x[c] : 0.0f;
      }
    }
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j) s += v[j];  // zeros past the row
    const float mean = warp_sum(s) / float(a.cols);
    float ss = 0.0f;
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const float d = column_of<kVec>(lane, j) < cols ? v[j] - mean : 0.0f;
      ss += d * d;
    }
    const float rstd = rstd_of(a, warp_sum(ss));
    if (lane == 0) save_stats(a, row, mean, rstd);
    if constexpr (kVec) {
#pragma unroll
      for (int q = 0; q < kPer / 4; ++q) {
        const int c = column_of<true>(lane, 4 * q);
        if (c >= cols) continue;
        float4 o = make_float4((v[4 * q] - mean) * rstd, (v[4 * q + 1] - mean) * rstd, (v[4 * q + 2] - mean) * rstd,
                               (v[4 * q + 3] - mean) * rstd);
        if (a.weight != nullptr) {
          const float4 w = *reinterpret_cast<const float4*>(a.weight + c);
          o = make_float4(o.x * w.x, o.y * w.y, o.z * w.z, o.w * w.w);
        }
        if (a.bias != nullptr) {
          const float4 b = *reinterpret_cast<const float4*>(a.bias + c);
          o = make_float4(o.x + b.x, o.y + b.y, o.z + b.z, o.w + b.w);
        }
        *reinterpret_cast<float4*>(y + c) = o;
      }
    } else {
#pragma unroll
      for (int j = 0; j < kPer; ++j) {
        const int c = column_of<false>(lane, j);
        if (c < cols) y[c] = affine(a, c, v[j], mean, rstd);
      }
    }
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <int kPer>
void launch_per(const LayerNormArgs& a) {
  const unsigned grid = blocks_for(a.rows, kWarps);
  const bool vec = a.cols % 4 == 0 && aligned16(a.x) && aligned16(a.out) &&
                   (a.weight == nullptr || aligned16(a.weight)) && (a.bias == nullptr || aligned16(a.bias));
  if (vec)
    launch("layer_norm_v4_fused_registers", kernel<kPer, true>, grid, kWarps * 32, a);
  else
    launch("layer_norm_v4_fused_registers", kernel<kPer, false>, grid, kWarps * 32, a);
}

inline void run(const LayerNormArgs& a) {
  const int64_t per = (a.cols + 31) / 32;
  if (per <= 4) return launch_per<4>(a);
  if (per <= 8) return launch_per<8>(a);
  if (per <= 16) return launch_per<16>(a);
  if (per <= 32) return launch_per<32>(a);
  layer_norm_v3::run(a);
}

}  // namespace cxr::cuda::layer_norm_v4
