// v5_warp_tiled.cuh — SGEMM v5: warp tiling, the best FP32 version (the one the backend runs). It
// is v4's kernel (float4 tile copies in any layout, double buffering, 128 x 128 x 8 block tile, 256
// threads of 8 x 8 results) with the results laid out by warp. The 8 warps stand 2 (m) x 4 (n),
// each owning a 64 x 32 warp tile, which it covers as 2 x 2 sub-tiles of 32 x 16 with its lanes as
// 8 (m) x 4 (n), each lane 4 x 4 per sub-tile.
//   What it adds: locality of a warp's shared reads. Per step of k a warp reads 2 float4 of A
//   (8 lanes x 16 B distinct = 128 B: one wavefront each) and 2 of B (4 distinct float4, 64 B,
//   broadcast to the 8 lane rows: one wavefront each): 4 wavefronts per 64 FMA instructions, 2/3
//   of v4's 6, so shared memory runs at 25% of its bandwidth (128 B/clock/SM) when the FP32 units
//   run at peak, leaving the issue slots and the bandwidth to the tile copies. A warp's footprint
//   per k is 64 + 32 values of A and B instead of v4's 16 + 128 (v4's warp is 2 rows of threads
//   across the whole tile); the same footprint is what a tensor-core warp tile needs (v6).
//   flops 2MNK. Global bytes MNK/16 (4.3 GB at 4096^3; 1.3 ms if none of it hit in L2, under the
//   FP32 floor of 2.05 ms at 67 TFLOP/s). Shared: 16.9 KB. 128 registers (the cap of
//   __launch_bounds__(256, 2), no spills: 64 accumulators, 16 A/B values, 8 prefetched floats,
//   addresses): 2 blocks, 16 warps per SM (the scalar-copy instantiation for other layouts: ~170,
//   one block). A deeper tile (BK 16) spills at this cap (nvcc 13).
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
