// v1_naive.cuh — SGEMM v1: one thread per element of C, the dot product of a row of A and a column
// of B read straight from global memory. The correct baseline every other version is checked
// against on the device.
//   flops 2MNK; bytes: every thread reads 2K floats, so 8MNK bytes of (mostly cached) loads for
//   4(MK + KN + MN) of compulsory traffic. Limited by load throughput: each FMA needs two loads.
#pragma once

#include "cuda/common.cuh"
#include "cuda/kernels/sgemm/sgemm.h"

namespace cxr::cuda::sgemm_v1 {

// blockDim (16, 16); threadIdx.x walks columns, so a warp reads B's row coalesced.
__global__ void kernel(SgemmArgs a) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t row = int64_t(blockIdx.y) * blockDim.y + threadIdx.y;
  if (row >= a.M || col >= a.N) return;
  float acc = 0;
  for (int64_t k = 0; k < a.K; ++k) acc += a.A[row * a.lda + k] * a.B[k * a.ldb + col];
  a.C[row * a.ldc + col] = acc;
}

inline void run(const SgemmArgs& a) {
  const dim3 block(16, 16);
  const dim3 grid(unsigned((a.N + 15) / 16), unsigned((a.M + 15) / 16));
  launch("sgemm_v1_naive", kernel, grid, block, a);
}

}  // namespace cxr::cuda::sgemm_v1
