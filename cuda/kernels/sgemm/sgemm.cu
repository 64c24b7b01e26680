// sgemm.cu — the SGEMM ladder's versions (sgemm.h; one file each, cuda/kernels/sgemm/vN_*.cuh) and
// their dispatch. docs/KERNELS.md explains each step.
#include "cuda/kernels/sgemm/sgemm.h"

#include "cuda/kernels/sgemm/v1_naive.cuh"
#include "cuda/kernels/sgemm/v2_shared_tiles.cuh"
#include "cuda/kernels/sgemm/v3_register_blocked.cuh"
#include "cuda/kernels/sgemm/v4_vectorized.cuh"
#include "cuda/kernels/sgemm/v5_warp_tiled.cuh"
#include "cuda/kernels/sgemm/v6_tf32_wmma.cuh"
#include "cuda/kernels/sgemm/v7_bf16_wmma.cuh"

namespace cxr::cuda {

const KernelLadder& sgemm_ladder() {
  static const KernelLadder ladder{
      "sgemm",
      {
          {1, "v1_naive", "one thread per output, operands from global memory"},
          {2, "v2_shared_tiles", "32x32 tiles of A and B staged in shared memory"},
          {3, "v3_register_blocked", "128x128 block tile, 8x8 outputs per thread in registers"},
          {4, "v4_vectorized", "float4 loads in any layout, double-buffered tiles"},
          {5, "v5_warp_tiled", "warp tiles of 64x32, BK 16: fewer shared wavefronts per FMA"},
          {6, "v6_tf32_wmma", "tensor cores: TF32 WMMA m16n16k8, FP32 accumulation", /*exact_fp32=*/false},
          {7, "v7_bf16_wmma", "tensor cores: BF16 inputs (rounded in the load path), FP32 accumulation",
           /*exact_fp32=*/false},
      },
      /*best=*/5};  // the fastest float32 one; the tensor-core versions change the numerics (opt-in)
  return ladder;
}

SgemmArgs row_major_sgemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb,
                          float* C, int64_t ldc) {
  SgemmArgs a;
  a.M = M, a.N = N, a.K = K;
  a.A = {A, lda, 1, 0};
  a.B = {B, ldb, 1, 0};
  a.C = {C, ldc, 1, 0};
  return a;
}

void sgemm(int version, const SgemmArgs& a) {
  CXR_CHECK(a.M >= 0 && a.N >= 0 && a.K >= 0 && a.batch >= 0, "sgemm: negative size M=", a.M, " N=", a.N, " K=", a.K,
            " batch=", a.batch);
  if (a.M == 0 || a.N == 0 || a.batch == 0) return;
  CXR_CHECK(a.C.data != nullptr && (a.K == 0 || (a.A.data != nullptr && a.B.data != nullptr)),
            "sgemm: a null operand for M=", a.M, " N=", a.N, " K=", a.K);
  switch (version) {
    case 1: return sgemm_v1::run(a);
    case 2: return sgemm_v2::run(a);
    case 3: return sgemm_v3::run(a);
    case 4: return sgemm_v4::run(a);
    case 5: return sgemm_v5::run(a);
    case 6: return sgemm_v6::run(a);
    case 7: return sgemm_v7::run(a);
    default: fail("sgemm: no kernel version ", version, " (", sgemm_ladder().versions.size(), " versions)");
  }
}

}  // namespace cxr::cuda
