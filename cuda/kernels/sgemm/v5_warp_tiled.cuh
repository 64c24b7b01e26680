// v5_warp_tiled.cuh — SGEMM v5: warp tiling, the best FP32 version (the one the backend runs). It
// is v4's kernel (float4 tile copies in any layout, double buffering, 128 x 128 block tile, 256
// threads of 8 x 8 results) with the results laid out by warp and a deeper tile. The 8 warps
// stand 2 (m) x 4 (n), each owning a 64 x 32 warp tile, which it covers as 2 x 2 sub-tiles of
// 32 x 16 with its lanes as 8 (m) x 4 (n), each lane 4 x 4 per sub-tile.
//   What it adds: (1) fewer shared wavefronts per FMA. Per step of k a warp reads 2 float4 of A
//   (8 lanes x 16 B distinct = 128 B: one wavefront each) and 2 of B (4 distinct float4, 64 B,
//   broadcast to the 8 lane rows: one each): 4 wavefronts per 64 FMA instructions, 2/3 of v4's 6,
//   shared memory at ~25% of its bandwidth when the FP32 units run at peak; a warp's footprint
//   per k is 64 + 32 values of A and B instead of v4's 16 + 128. (2) BK = 16: half the
//   __syncthreads per flop, and 16 unrolled steps of independent FMAs between barriers for the
//   scheduler to interleave with the shared loads. (3) with v4's __launch_bounds__(256, 2) (at
//   most 128 registers a thread), 2 blocks and 16 warps per SM hide the FMA and load latencies.
//   flops 2MNK. Global bytes MNK/16 (4.3 GB at 4096^3; 1.3 ms from DRAM, under the FP32 floor of
//   2.05 ms at 67 TFLOP/s). Shared: As[2][16][132], Bs[2][16][132]: 33.8 KB (the transposing
//   stores of a row-major A are 2-way bank-conflicted; they are 1/16 of the shared traffic).
//   Registers ~120 (64 accumulators, 16 A/B values, 16 prefetched, addresses).
//   Target: >= 0.8x cuBLAS FP32 at 4096^3. measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/v4_vectorized.cuh"

namespace cxr::cuda::sgemm_v5 {

// Warp w at rows 64 (w / 4), columns 32 (w % 4) of the block tile; lane l of it at rows 4 (l / 4)
// and columns 4 (l % 4) of each 32 x 16 sub-tile.
struct WarpTiles {
  static constexpr int kRowStep = 32, kColStep = 16;  // between a lane's sub-tiles
  __device__ static int row0() { return int(threadIdx.x) / 32 / 4 * 64 + int(threadIdx.x) % 32 / 4 * 4; }
  __device__ static int col0() { return int(threadIdx.x) / 32 % 4 * 32 + int(threadIdx.x) % 32 % 4 * 4; }
};

inline void run(const SgemmArgs& args) { sgemm_v4::run_with<8, WarpTiles>("sgemm_v5_warp_tiled", args); }

}  // namespace cxr::cuda::sgemm_v5
