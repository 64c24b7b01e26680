// v4_vectorized.cuh — SGEMM v4: float4 loads and double buffering, on v3's 128 x 128 x 8 block tile
// of 256 threads with 8 x 8 results each.
//   What it adds: (1) 16-byte accesses everywhere. The tile copies (tiles.cuh's TileLoader) load
//   one float4 per thread per operand and tile, along whichever direction the operand is
//   contiguous (scalar, guarded loads where it is not, is misaligned, or has an extent that is not
//   a multiple of 4); a thread's 8 x 8 is now 2 x 2 blocks of 4 x 4 (rows 4ty + 64i, columns
//   4tx + 64j), so per step of k it reads 2 float4 of A and 2 of B: 4 shared loads per 64 FMAs
//   instead of v3's 16. A warp (16 tx x 2 ty) reads 2 distinct float4 of A (one wavefront) and 16
//   of B (256 B, two): 6 wavefronts per 64 FMA instructions, shared memory at 37.5% of its
//   bandwidth when the FP32 units run at peak, where v3 needed all of it. (2) Latency hiding:
//   double buffering (tiles.cuh's double_buffered): the global loads of tile t + 1 are issued
//   before the FMAs of tile t and stored to the other of two shared buffers after them, so a warp
//   waits on memory only when a tile's compute (512 FMAs a thread) is shorter than the load
//   latency; one __syncthreads per tile instead of two.
//   flops 2MNK. Global bytes as v3, MNK/16 (4.3 GB at 4096^3), in a quarter of the load
//   instructions. Shared: As[2][8][132] (pitch 132: the transposing stores of a row-major A hit 32
//   distinct banks), Bs[2][8][132]: 16.9 KB. 128 registers (the cap of __launch_bounds__(256, 2),
//   no spills): 2 blocks, 16 warps per SM (the scalar-copy instantiation: ~150-170, one block).
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

namespace cxr::cuda::sgemm_v4 {

using sgemm_tiles::OperandAccess;
constexpr int kBM = 128, kBN = 128, kThreads = 256, kPitch = 128 + 4;

// Where a thread's 8 x 8 results lie in the block tile: rows row0() + kRowStep * (i / 4) + i % 4,
// columns col0() + kColStep * (j / 4) + j % 4 (i, j < 8). v4: the threads as a 16 x 16 grid.
struct ThreadGrid {
  static constexpr int kRowStep = 64, kColStep = 64;
  __device__ static int row0() { return 4 * (int(threadIdx.x) / 16); }
  __device__ static int col0() { return 4 * (int(threadIdx.x) % 16); }
};

// BK: the tile's depth along k; Layout: where each thread's results lie (ThreadGrid; v5's WarpTiles);
// kVector: both operands take float4 tile copies (OperandAccess::vector). The fast path fits 128
// registers for 2 blocks per SM; the general one (scalar copies) would spill there, so it gets
// one block per SM and ~170 registers.
template <int BK, typename Layout, bool kVector>
__global__ void __launch_bounds__(kThreads, kVector ? 2 : 1) kernel(SgemmArgs a, OperandAccess access, bool vector_c) {
  alignas(16) __shared__ float As[2][BK][kPitch];  // As[k][m]
  alignas(16) __shared__ float Bs[2][BK][kPitch];  // Bs[k][n]
  using Tiles = sgemm_tiles::BlockTiles<sgemm_tiles::SharedA::KM, kBM, kBN, BK, kThreads>;
  Tiles tiles(a);
  const int row0 = Layout::row0(), col0 = Layout::col0();
  float acc[8][8] = {};
  sgemm_tiles::double_buffered(
      Tiles::k_tiles(a), [&](int tile) { tiles.template fetch<kVector>(a, tile, access); },
      [&](int buf) { tiles.store(As[buf], Bs[buf], access, sgemm_tiles::Identity{}); },
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
  float* C = a.C.data + blockIdx.z * a.C.batch_stride + Tiles::n0() * a.C.col_stride;
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int64_t m = Tiles::m0() + row0 + Layout::kRowStep * (i / 4) + i % 4, n = col0 + Layout::kColStep * h;
      const float* v = &acc[i][4 * h];
      sgemm_tiles::store_four(a.C, C, m, n, a.M, a.N - Tiles::n0(), vector_c, make_float4(v[0], v[1], v[2], v[3]));
    }
}

template <int BK, typename Layout>
void run_with(const char* name, const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, kBM, kBN, [name](const SgemmArgs& a, dim3 grid) {
    const OperandAccess access = sgemm_tiles::operand_access<sgemm_tiles::SharedA::KM>(a);
    const bool vector_c = sgemm_tiles::vector_rows(a.C);
    if (access.vector())
      launch(name, kernel<BK, Layout, true>, grid, dim3(kThreads), a, access, vector_c);
    else
      launch(name, kernel<BK, Layout, false>, grid, dim3(kThreads), a, access, vector_c);
  });
}

inline void run(const SgemmArgs& args) { run_with<8, ThreadGrid>("sgemm_v4_vectorized", args); }

}  // namespace cxr::cuda::sgemm_v4
