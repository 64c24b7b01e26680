// v2_shared_tiles.cuh — SGEMM v2: shared-memory tiling. A block of 32 x 32 threads owns a 32 x 32
// tile of C; for each step of 32 along k it copies a 32 x 32 tile of A and of B into shared memory
// (one element per thread, guarded: zeros outside the matrices), synchronizes, and every thread
// accumulates its dot product from shared memory.
//   What it buys: each value read from global memory is used 32 times (once per thread of its tile
//   row or column), so global traffic drops from 8 B to 8/32 = 0.25 B per FMA.
//   flops 2MNK. Bytes: global 4MNK(1/32 + 1/32) = MNK/4 (17 GB at 4096^3; much of it L2 hits).
//   Shared, per k and warp (one row ty, 32 consecutive tx): Bs[k][tx] is one conflict-free
//   wavefront, As[ty][k] a broadcast that the compiler can merge over 4 k into one 16-byte load:
//   ~1.25 wavefronts per 32 FMAs, so at the H100's one wavefront (128 B) per clock and SM at most
//   ~26 FMAs per clock of 128: >= 10 ms at 4096^3, 5x the FP32 floor of 2.05 ms. Also a
//   __syncthreads pair per 32 FMAs of a thread.
//   32 registers; 1024 threads and 8 KB shared a block: 2 blocks (64 warps) per SM.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

namespace cxr::cuda::sgemm_v2 {

constexpr int kTile = 32;

__global__ void __launch_bounds__(kTile * kTile) kernel(SgemmArgs a) {
  __shared__ float As[kTile][kTile];
  __shared__ float Bs[kTile][kTile];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int64_t row = int64_t(blockIdx.y) * kTile + ty, col = int64_t(blockIdx.x) * kTile + tx;
  const float* A = a.A.data + blockIdx.z * a.A.batch_stride;
  const float* B = a.B.data + blockIdx.z * a.B.batch_stride;
  float acc = 0;
  for (int64_t k0 = 0; k0 < a.K; k0 += kTile) {
    // Thread (tx, ty) copies A[row][k0 + tx] and B[k0 + ty][col].
    const int64_t ka = k0 + tx, kb = k0 + ty;
    As[ty][tx] = row < a.M && ka < a.K ? A[row * a.A.row_stride + ka * a.A.col_stride] : 0.f;
    Bs[ty][tx] = kb < a.K && col < a.N ? B[kb * a.B.row_stride + col * a.B.col_stride] : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < kTile; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();  // before the next copy overwrites the tiles
  }
  if (row < a.M && col < a.N)
    a.C.data[blockIdx.z * a.C.batch_stride + row * a.C.row_stride + col * a.C.col_stride] = acc;
}

inline void run(const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, kTile, kTile, [](const SgemmArgs& a, dim3 grid) {
    launch("sgemm_v2_shared_tiles", kernel, grid, dim3(kTile, kTile), a);
  });
}

}  // namespace cxr::cuda::sgemm_v2
