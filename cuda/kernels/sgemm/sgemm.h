// sgemm.h — the SGEMM ladder of the kernel study (docs/KERNELS.md): C = A B in float32, row-major
// operands with leading dimensions (A: M x K, lda >= K; B: K x N, ldb >= N; C: M x N, ldc >= N),
// one version per file in cuda/kernels/sgemm/ from v1 (naive) to the fastest. Plain C++.
#pragma once

#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

struct SgemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const float* A = nullptr;
  int64_t lda = 0;
  const float* B = nullptr;
  int64_t ldb = 0;
  float* C = nullptr;
  int64_t ldc = 0;
};

const KernelLadder& sgemm_ladder();
// Runs `version` of the ladder on the backend's stream (device pointers).
void sgemm(int version, const SgemmArgs& args);

}  // namespace cxr::cuda
