// v4_vectorized.cuh — SGEMM v4: float4 loads and double buffering, on v3's 128 x 128 tile of 256
// threads with 8 x 8 results each.
//   What it adds: (1) 16-byte accesses everywhere. The tile copies (tiles.cuh's TileLoader) load
//   one float4 per thread per operand and tile, along whichever direction the operand is
//   contiguous (scalar, guarded loads where it is not, or is misaligned, and at the edges); a
//   thread's 8 x 8 is now 2 x 2 blocks of 4 x 4 (rows 4ty + 64i, columns 4tx + 64j), so per step
//   of k it reads 2 float4 of A and 2 of B: 4 shared loads per 64 FMAs instead of 16. A warp
//   (16 tx x 2 ty) reads 2 distinct float4 of A (one wavefront) and 16 of B (256 B, two): 6
//   wavefronts per 64 FMA instructions, shared memory at ~40% of its bandwidth when the FP32
//   units run at peak, where v3 needed all of it. (2) Latency hiding: double buffering
//   (tiles.cuh's double_buffered): the global loads of tile t + 1 are issued before the FMAs of
//   tile t and stored to the other of two shared buffers after them, so a warp waits on DRAM only
//   when a whole tile's compute (512 FMAs a thread) is shorter than the load latency; one
//   __syncthreads per tile instead of two.
//   flops 2MNK. Global bytes as v3, MNK/16 (4.3 GB at 4096^3, in 16-byte requests: a quarter of
//   the load instructions). Shared: As[2][8][132] (pitch 132: the transposing stores of a
//   row-major A hit 32 distinct banks), Bs[2][8][132]: 16.9 KB.
//   Registers ~110 (64 accumulators, 16 of A/B values, 8 of prefetched tiles); 2+ blocks per SM.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

namespace cxr::cuda::sgemm_v4 {

using sgemm_tiles::TileAccess;
constexpr int kBM = 128, kBN = 128, kThreads = 256, kPitch = 128 + 4;

// Where a thread's 8 x 8 results lie in the block tile: rows row0() + kRowStep * (i / 4) + i % 4,
// columns col0() + kColStep * (j / 4) + j % 4 (i, j < 8). v4: the threads as a 16 x 16 grid.
struct ThreadGrid {
  static constexpr int kRowStep = 64, kColStep = 64;
  __device__ static int row0() { return 4 * (int(threadIdx.x) / 16); }
  __device__ static int col0() { return 4 * (int(threadIdx.x) % 16); }
};

// BK: the tile's depth along k; Layout: where each thread's results lie (ThreadGrid; v5's WarpTiles);
// kVector: both operands take float4 tile copies (TileAccess::vector).
template <int BK, typename Layout, bool kVector>
__global__ void __launch_bounds__(kThreads, 2) kernel(SgemmArgs a, TileAccess access_a, TileAccess access_b,
                                                      bool vector_c) {
  alignas(16) __shared__ float As[2][BK][kPitch];  // As[k][m]
  alignas(16) __shared__ float Bs[2][BK][kPitch];  // Bs[k][n]
  const int row0 = Layout::row0(), col0 = Layout::col0();
  const int64_t m0 = int64_t(blockIdx.y) * kBM, n0 = int64_t(blockIdx.x) * kBN;
  const float* A = a.A.data + blockIdx.z * a.A.batch_stride + m0 * a.A.row_stride;
  const float* B = a.B.data + blockIdx.z * a.B.batch_stride + n0 * a.B.col_stride;
  const int m_valid = int(a.M - m0 < kBM ? a.M - m0 : kBM), n_valid = int(a.N - n0 < kBN ? a.N - n0 : kBN);
  sgemm_tiles::TileLoader<BK, kBM, kThreads> load_a;  // tile (k, m) at A[m * row_stride + k * col_stride]
  sgemm_tiles::TileLoader<BK, kBN, kThreads> load_b;
  float acc[8][8] = {};
  sgemm_tiles::double_buffered(
      int((a.K + BK - 1) / BK),
      [&](int tile) {
        const int64_t k0 = int64_t(tile) * BK;
        const int k_valid = int(a.K - k0 < BK ? a.K - k0 : BK);
        load_a.template fetch<kVector>(A + k0 * a.A.col_stride, a.A.col_stride, a.A.row_stride, k_valid, m_valid, access_a);
        load_b.template fetch<kVector>(B + k0 * a.B.row_stride, a.B.row_stride, a.B.col_stride, k_valid, n_valid, access_b);
      },
      [&](int buf) {
        load_a.store(As[buf], access_a.along_rows, sgemm_tiles::Identity{});
        load_b.store(Bs[buf], access_b.along_rows, sgemm_tiles::Identity{});
      },
      [&](int buf) {
#pragma unroll
        for (int k = 0; k < BK; ++k) {
          float a_col[8], b_row[8];
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            *reinterpret_cast<float4*>(&a_col[4 * h]) =
                *reinterpret_cast<const float4*>(&As[buf][k][row0 + Layout::kRowStep * h]);
            *reinterpret_cast<float4*>(&b_row[4 * h]) =
                *reinterpret_cast<const float4*>(&Bs[buf][k][col0 + Layout::kColStep * h]);
          }
#pragma unroll
          for (int i = 0; i < 8; ++i)
#pragma unroll
            for (int j = 0; j < 8; ++j) acc[i][j] += a_col[i] * b_row[j];
        }
      });
  float* C = a.C.data + blockIdx.z * a.C.batch_stride + n0 * a.C.col_stride;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t m = m0 + row0 + Layout::kRowStep * (i / 4) + i % 4, n = col0 + Layout::kColStep * h;
      const float* v = &acc[i][4 * h];
      sgemm_tiles::store_four(a.C, C, m, n, a.M, a.N - n0, vector_c, make_float4(v[0], v[1], v[2], v[3]));
    }
}

template <int BK, typename Layout>
void run_with(const char* name, const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, kBM, kBN, [name](const SgemmArgs& a, dim3 grid) {
    const TileAccess access_a = sgemm_tiles::tile_access(a.A.data, a.A.col_stride, a.A.row_stride, a.A.batch_stride, a.K, a.M);
    const TileAccess access_b = sgemm_tiles::tile_access(a.B.data, a.B.row_stride, a.B.col_stride, a.B.batch_stride, a.K, a.N);
    const bool vector_c = sgemm_tiles::vector_rows(a.C);
    if (access_a.vector && access_b.vector)
      launch(name, kernel<BK, Layout, true>, grid, dim3(kThreads), a, access_a, access_b, vector_c);
    else
      launch(name, kernel<BK, Layout, false>, grid, dim3(kThreads), a, access_a, access_b, vector_c);
  });
}

inline void run(const SgemmArgs& args) { run_with<8, ThreadGrid>("sgemm_v4_vectorized", args); }

}  // namespace cxr::cuda::sgemm_v4
