// sgemm.h — the SGEMM ladder of the kernel study (docs/KERNELS.md): C = A B in float32 for a batch
// of matrices, one version per file in cuda/kernels/sgemm/ from v1 (naive) to the fastest. Every
// operand is read through a row stride, a column stride and a batch stride, so row-major,
// transposed (column-major) and strided views all go in place, the shape of the backend's bmm
// (tensor/kernels/linalg.h: a (B, M, K), b (B, K, N), out (B, M, N)). Plain C++.
#pragma once

#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

// Element (row, col) of batch entry z at data[z * batch_stride + row * row_stride + col * col_stride].
// Row-major with leading dimension ld: {p, ld, 1}; its transpose read in place: {p, 1, ld}.
template <typename T>
struct MatrixRef {
  T* data = nullptr;
  int64_t row_stride = 0, col_stride = 1, batch_stride = 0;
};

struct SgemmArgs {
  int64_t M = 0, N = 0, K = 0, batch = 1;
  MatrixRef<const float> A;  // M x K
  MatrixRef<const float> B;  // K x N
  MatrixRef<float> C;        // M x N, overwritten (C = A B; K = 0 gives zeros); must not overlap A or B
};

// One row-major GEMM with leading dimensions (lda >= K, ldb >= N, ldc >= N).
SgemmArgs row_major_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                          float* C, int64_t ldc);

// cuBLAS on the same operands, the bench's yardstick: float32 compute, or the tensor cores in TF32
// or BF16 on the float32 inputs (cublas_sgemm.cu). Throws in the emulated build (no cuBLAS) and for
// operands without a unit stride.
enum class LibraryMath { Fp32, Tf32, Bf16 };
void cublas_sgemm(LibraryMath math, const SgemmArgs& args);

const KernelLadder& sgemm_ladder();
// Runs `version` of the ladder on the backend's stream (device pointers). Throws naming the version
// for an unknown one and naming the sizes for negative ones.
void sgemm(int version, const SgemmArgs& args);

}  // namespace cxr::cuda
