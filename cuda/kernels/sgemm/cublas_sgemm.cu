// cublas_sgemm.cu — cuBLAS on the ladder's own SgemmArgs, the yardstick of cxr-kernels (sgemm.h):
// cublasGemmStridedBatchedEx on the float32 operands in place, with float32 compute (no tensor
// cores), or TF32 / BF16 tensor-core compute on the same float32 inputs (CUBLAS_COMPUTE_32F_FAST_TF32
// / _FAST_16BF: the library rounds the inputs itself, as v6 and v7 do in their load paths). The
// emulated build has no cuBLAS: there it throws.
#include "cuda/kernels/sgemm/sgemm.h"

#if defined(CXR_CUDA_EMULATION)
#include "tensor/error.h"

namespace cxr::cuda {
void cublas_sgemm(LibraryMath, const SgemmArgs&) { fail("sgemm: the emulated build has no cuBLAS"); }
}  // namespace cxr::cuda

#else
#include <cublas_v2.h>

#include <algorithm>
#include <cstdint>

#include "cuda/common.cuh"

namespace cxr::cuda {
namespace {

void check_cublas(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) fail("sgemm: ", call, " failed: cuBLAS: ", cublasGetStatusString(status));
}

// A row-major (rows x cols) operand with strides (rs, cs) as cuBLAS's column-major one: the same
// memory is the transpose, so inner stride 1 along the columns is CUBLAS_OP_N with ld = rs, along
// the rows CUBLAS_OP_T with ld = cs.
struct CublasOperand {
  cublasOperation_t op;
  int64_t ld;
};
CublasOperand as_column_major(const char* name, int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if (cs == 1 && rs >= std::max<int64_t>(cols, 1)) return {CUBLAS_OP_N, rs};
  if (rs == 1 && cs >= std::max<int64_t>(rows, 1)) return {CUBLAS_OP_T, cs};
  fail("sgemm: cuBLAS needs ", name, " with one unit stride, got strides (", rs, ", ", cs, ")");
}

}  // namespace

void cublas_sgemm(LibraryMath math, const SgemmArgs& a) {
  if (a.M == 0 || a.N == 0 || a.batch == 0) return;
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    check_cublas(cublasCreate(&h), "cublasCreate");
    return h;
  }();
  check_cublas(cublasSetStream(handle, stream()), "cublasSetStream");
  CXR_CHECK(a.C.col_stride == 1 && a.C.row_stride >= a.N, "sgemm: cuBLAS needs C's rows contiguous");
  for (int64_t n :
       {a.M, a.N, a.K, a.batch, a.A.row_stride, a.A.col_stride, a.B.row_stride, a.B.col_stride, a.C.row_stride})
    CXR_CHECK(n <= INT32_MAX, "sgemm: cuBLAS takes 32-bit sizes and leading dimensions, got ", n);
  const CublasOperand A = as_column_major("A", a.M, a.K, a.A.row_stride, a.A.col_stride);
  const CublasOperand B = as_column_major("B", a.K, a.N, a.B.row_stride, a.B.col_stride);
  const cublasComputeType_t compute = math == LibraryMath::Tf32   ? CUBLAS_COMPUTE_32F_FAST_TF32
                                      : math == LibraryMath::Bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF
                                                                  : CUBLAS_COMPUTE_32F;
  // Row-major C = A B is column-major C^T = B^T A^T: (N x M) = B' (N x K) A' (K x M).
  const float one = 1.0f, zero = 0.0f;
  check_cublas(cublasGemmStridedBatchedEx(handle, B.op, A.op, int(a.N), int(a.M), int(a.K), &one, a.B.data, CUDA_R_32F,
                                          int(B.ld), a.B.batch_stride, a.A.data, CUDA_R_32F, int(A.ld),
                                          a.A.batch_stride, &zero, a.C.data, CUDA_R_32F, int(a.C.row_stride),
                                          a.C.batch_stride, int(a.batch), compute, CUBLAS_GEMM_DEFAULT),
               "cublasGemmStridedBatchedEx");
}

}  // namespace cxr::cuda
#endif
