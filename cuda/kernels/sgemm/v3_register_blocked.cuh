// v3_register_blocked.cuh — SGEMM v3: 2-D register blocking. A block of 256 threads owns a
// 128 x 128 tile of C and each thread an 8 x 8 grid of it (rows ty + 16i, columns tx + 16j), kept
// in 64 registers. Per step of k a thread reads 8 values of A's column and 8 of B's row from
// shared memory and does their 64 products: 4 FMAs per shared load instead of v2's 1/2.
//   What it buys: arithmetic intensity at every level. Global: each value is reused 128 times,
//   4MNK(1/128 + 1/128) = MNK/16 bytes (4.3 GB at 4096^3, 1.3 ms even if none of it hit in L2:
//   below the FP32 floor of 2.05 ms, so no longer memory-bound). Shared: a warp (16 tx x 2 ty) reads As[k][ty + 16i]
//   (two words, one wavefront) and Bs[k][tx + 16j] (16 consecutive words, one wavefront): 16
//   wavefronts per 64 FMA instructions, i.e. 128 FMAs per clock and SM at one wavefront a clock,
//   exactly the FP32 units' rate: balanced, no headroom, so it runs well under peak. The strided
//   8 x 8 (rather than a contiguous block) keeps both reads conflict-free and C's stores coalesced.
//   flops 2MNK. Tiles BK = 8: one __syncthreads pair per 512 FMAs of a thread. The copies are
//   scalar (4 + 4 loads per thread per tile), A's transposed into As[k][m] (pitch 132: the 8 k x 4
//   m of a warp's stores fall in 32 banks).
//   128 registers (64 accumulators, no spills); 8.3 KB shared; 256 threads: 2 blocks per SM.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

namespace cxr::cuda::sgemm_v3 {

constexpr int kBM = 128, kBN = 128, kBK = 8, kThreads = 256, kPerThread = 8;

__global__ void __launch_bounds__(kThreads) kernel(SgemmArgs a) {
  __shared__ float As[kBK][kBM + 4];
  __shared__ float Bs[kBK][kBN];
  const int t = int(threadIdx.x), tx = t % 16, ty = t / 16;
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const float* A = a.A.data + blockIdx.z * a.A.batch_stride;
  const float* B = a.B.data + blockIdx.z * a.B.batch_stride;
  float acc[kPerThread][kPerThread] = {};
  for (int64_t k0 = 0; k0 < a.K; k0 += kBK) {
    // A: thread t copies (m = t/8 + 32i, k = t%8); B: (k = t/128 + 2i, n = t%128).
#pragma unroll
    for (int i = 0; i < kBM * kBK / kThreads; ++i) {
      const int m = t / kBK + i * (kThreads / kBK), k = t % kBK;
      const bool inside = m0 + m < a.M && k0 + k < a.K;
      As[k][m] = inside ? A[(m0 + m) * a.A.row_stride + (k0 + k) * a.A.col_stride] : 0.f;
    }
#pragma unroll
    for (int i = 0; i < kBK * kBN / kThreads; ++i) {
      const int k = t / kBN + i * (kThreads / kBN), n = t % kBN;
      const bool inside = k0 + k < a.K && n0 + n < a.N;
      Bs[k][n] = inside ? B[(k0 + k) * a.B.row_stride + (n0 + n) * a.B.col_stride] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kBK; ++k) {
      float a_col[kPerThread], b_row[kPerThread];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i) a_col[i] = As[k][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < kPerThread; ++j) b_row[j] = Bs[k][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < kPerThread; ++i)
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) acc[i][j] += a_col[i] * b_row[j];
    }
    __syncthreads();
  }
  float* C = a.C.data + blockIdx.z * a.C.batch_stride;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i)
#pragma unroll
    for (int j = 0; j < kPerThread; ++j) {
      const int64_t m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < a.M && n < a.N) C[m * a.C.row_stride + n * a.C.col_stride] = acc[i][j];
    }
}

inline void run(const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, kBM, kBN, [](const SgemmArgs& a, dim3 grid) {
    launch("sgemm_v3_register_blocked", kernel, grid, dim3(kThreads), a);
  });
}

}  // namespace cxr::cuda::sgemm_v3
