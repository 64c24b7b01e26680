// gemm.cuh — the backend's one GEMM core, C (M x N) = A (M x K) B (K x N), for float and double:
// shared-memory tiles and 2-D register blocking, with A and B fetched element by element through
// loader functors (a(row, k), b(k, col)) and C written through a store functor (c(row, col, value)),
// so the same core runs bmm on strided, batched operands (gemm.cu) and the three convolution passes
// as implicit GEMMs (conv.cu). The "register-blocked" rung of the SGEMM ladder: scalar loads, one
// shared buffer, no tensor cores. Every tile may be partial (rows, columns, K): out-of-range
// elements load as 0 and are never stored. Sums accumulate in T (float32 in float32).
//
//   gemm_tile<T>(M, N, k_begin, k_end, load_a, load_b, store);   // in a kernel; the block's tile
//   launch(name, kernel, gemm_grid<T>(name, M, N, count), kGemmThreads, ...);  // is (blockIdx.y, .x)
#pragma once

#include "cuda/common.cuh"

#if defined(CXR_CUDA_EMULATION)
#define CXR_UNROLL
#else
#define CXR_UNROLL _Pragma("unroll")
#endif

namespace cxr::cuda {

// The tiling. A block of 256 threads computes a BM x BN tile of C, stepping BK along K; each thread
// holds a TM x TN block of it in registers, at rows ty + i*(BM/TM) and columns tx + j*(BN/TN) of the
// tile (interleaved: a warp's shared-memory reads are broadcasts or consecutive words, its stores
// of C coalesce).
//   float:  128 x 128 x 8, 8 x 8 per thread. Per K step a thread reads 8 + 8 values from shared memory
//     for 64 FMAs, and the block reads (128 + 128) * 8 values from global memory for 128*128*8 FMAs:
//     32 flop/byte, above the H100's 67 TFLOP/s / 3.35 TB/s = 20, so large GEMMs are compute-bound.
//     64 accumulators + 16 operands fit the 255-register budget (ptxas for sm_90: 147 registers
//     for bmm, 150-196 with the convolution loaders' index arithmetic, no spills; so one block of
//     256 threads per SM); shared memory is 8.3 KB.
//   double: 64 x 64 x 8, 4 x 4 per thread: a double takes two registers, so an 8 x 8 block (128
//     registers of accumulators alone) would spill; float64 GEMMs here are gradient checks and small
//     layers, where smaller tiles also give more blocks.
template <typename T>
struct GemmTiling;
template <>
struct GemmTiling<float> {
  static constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
};
template <>
struct GemmTiling<double> {
  static constexpr int BM = 64, BN = 64, BK = 8, TM = 4, TN = 4;
};
inline constexpr int kGemmThreads = 256;

// The grid of `count` M x N GEMMs (batch elements or K-chunks): x = column tiles, y = row tiles,
// z = count (capped at 65535; kernels loop over z with a stride of gridDim.z).
template <typename T>
dim3 gemm_grid(const char* op, int64_t M, int64_t N, int64_t count) {
  using Tile = GemmTiling<T>;
  const int64_t row_tiles = (M + Tile::BM - 1) / Tile::BM, col_tiles = (N + Tile::BN - 1) / Tile::BN;
  CXR_CHECK(row_tiles <= 65535 && col_tiles <= INT32_MAX, op, ": a ", M, " x ", N,
            " GEMM has more tiles than a CUDA grid holds (at most ", int64_t(65535) * Tile::BM, " rows)");
  return dim3(unsigned(col_tiles), unsigned(row_tiles), unsigned(count < 65535 ? count : 65535));
}

// C[row, col] = sum over k in [k_begin, k_end) of A[row, k] B[k, col], for the tile
// (blockIdx.y, blockIdx.x) of C, rows < M and columns < N. load_a(row, k) and load_b(k, col) are
// called only inside those bounds (so they need no checks of their own beyond padding), store(row,
// col, value) once per element of C in the tile. Every thread of the block must call it.
template <typename T, typename LoadA, typename LoadB, typename Store>
__device__ void gemm_tile(int64_t M, int64_t N, int64_t k_begin, int64_t k_end, const LoadA& load_a,
                          const LoadB& load_b, const Store& store) {
  using Tile = GemmTiling<T>;
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  constexpr int kRowThreads = BM / TM, kColThreads = BN / TN;
  static_assert(kRowThreads * kColThreads == kGemmThreads, "one output block per thread");
  static_assert(BM * BK % kGemmThreads == 0 && BK * BN % kGemmThreads == 0, "whole tile loads");
  // A's tile is stored transposed (a_tile[k][row]) so the inner loop reads a column of it as
  // consecutive words; the 4 extra columns make the transposing stores conflict-free.
  __shared__ T a_tile[BK][BM + 4];
  __shared__ T b_tile[BK][BN];

  const int tid = int(threadIdx.x), ty = tid / kColThreads, tx = tid % kColThreads;
  const int64_t row0 = int64_t(blockIdx.y) * BM, col0 = int64_t(blockIdx.x) * BN;
  T acc[TM][TN];
  CXR_UNROLL for (int i = 0; i < TM; ++i) CXR_UNROLL for (int j = 0; j < TN; ++j) acc[i][j] = T(0);

  for (int64_t k0 = k_begin; k0 < k_end; k0 += BK) {
    // Load: consecutive threads take consecutive k of a row of A and consecutive columns of a row
    // of B (coalesced for row-major operands).
    CXR_UNROLL for (int t = 0; t < BM * BK / kGemmThreads; ++t) {
      const int e = tid + t * kGemmThreads, r = e / BK, kk = e % BK;
      const int64_t row = row0 + r, k = k0 + kk;
      a_tile[kk][r] = row < M && k < k_end ? load_a(row, k) : T(0);
    }
    CXR_UNROLL for (int t = 0; t < BK * BN / kGemmThreads; ++t) {
      const int e = tid + t * kGemmThreads, kk = e / BN, c = e % BN;
      const int64_t col = col0 + c, k = k0 + kk;
      b_tile[kk][c] = col < N && k < k_end ? load_b(k, col) : T(0);
    }
    __syncthreads();
    // Multiply: per k, an outer product of TM values of A's column and TN values of B's row.
    CXR_UNROLL for (int kk = 0; kk < BK; ++kk) {
      T a[TM], b[TN];
      CXR_UNROLL for (int i = 0; i < TM; ++i) a[i] = a_tile[kk][ty + i * kRowThreads];
      CXR_UNROLL for (int j = 0; j < TN; ++j) b[j] = b_tile[kk][tx + j * kColThreads];
      CXR_UNROLL for (int i = 0; i < TM; ++i) CXR_UNROLL for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();  // the tiles are overwritten by the next step
  }

  CXR_UNROLL for (int i = 0; i < TM; ++i) {
    const int64_t row = row0 + ty + i * kRowThreads;
    CXR_UNROLL for (int j = 0; j < TN; ++j) {
      const int64_t col = col0 + tx + j * kColThreads;
      if (row < M && col < N) store(row, col, acc[i][j]);
    }
  }
}

// One GEMM: C = A B over the whole K, one tile per block (grid: gemm_grid(op, M, N, 1)).
template <typename T, typename LoadA, typename LoadB, typename Store>
__global__ void __launch_bounds__(kGemmThreads) gemm_kernel(int64_t M, int64_t N, int64_t K, LoadA load_a, LoadB load_b,
                                                            Store store) {
  gemm_tile<T>(M, N, 0, K, load_a, load_b, store);
}

// ---- the common loaders and stores ----
// Element (i, j) of a matrix with arbitrary strides (a transposed view, a broadcast with stride 0).
template <typename T>
struct StridedMatrix {
  const T* data;
  int64_t row_stride, col_stride;
  __device__ T operator()(int64_t i, int64_t j) const { return data[i * row_stride + j * col_stride]; }
};

// Writes C into a row-major matrix with leading dimension ld.
template <typename T>
struct RowMajorStore {
  T* data;
  int64_t ld;
  __device__ void operator()(int64_t i, int64_t j, T value) const { data[i * ld + j] = value; }
};

}  // namespace cxr::cuda
