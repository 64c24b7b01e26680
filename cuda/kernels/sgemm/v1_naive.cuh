// v1_naive.cuh — SGEMM v1: one thread per element of C, the dot product of a row of A and a column
// of B read straight from global memory. The correct baseline every other version is checked
// against on the device.
//   flops 2MNK. Bytes: every thread loads 2K floats, 8 B per FMA, 8MNK bytes of load requests
//   (mostly L1/L2 hits) for 4(MK + KN + MN) bytes of compulsory traffic. A warp (2 rows x 16
//   columns of C) issues per k two loads (2 values of A, 16 consecutive of B), each at least one
//   L1 wavefront, for 32 FMAs: at most 16 FMAs per clock and SM of the 128 the FP32 units do, so
//   even if every load hit in L1, 4096^3 takes >= 16 ms (132 SMs at 1.98 GHz), 8x the FP32 floor
//   of 2.05 ms (67 TFLOP/s). 32 registers; 256 threads, no shared memory.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

namespace cxr::cuda::sgemm_v1 {

// blockDim (16, 16); threadIdx.x walks columns, so a warp reads B's row coalesced (when B's rows
// are contiguous).
__global__ void kernel(SgemmArgs a) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t row = int64_t(blockIdx.y) * blockDim.y + threadIdx.y;
  if (row >= a.M || col >= a.N) return;
  const float* A = a.A.data + blockIdx.z * a.A.batch_stride + row * a.A.row_stride;
  const float* B = a.B.data + blockIdx.z * a.B.batch_stride + col * a.B.col_stride;
  float acc = 0;
  for (int64_t k = 0; k < a.K; ++k) acc += A[k * a.A.col_stride] * B[k * a.B.row_stride];
  a.C.data[blockIdx.z * a.C.batch_stride + row * a.C.row_stride + col * a.C.col_stride] = acc;
}

inline void run(const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, 16, 16, [](const SgemmArgs& a, dim3 grid) {
    launch("sgemm_v1_naive", kernel, grid, dim3(16, 16), a);
  });
}

}  // namespace cxr::cuda::sgemm_v1
