// sgemm.cu — the SGEMM ladder's versions (sgemm.h) and their dispatch.
#include "cuda/kernels/sgemm/sgemm.h"

#include "cuda/kernels/sgemm/v1_naive.cuh"

namespace cxr::cuda {

const KernelLadder& sgemm_ladder() {
  static const KernelLadder ladder{
      "sgemm",
      {
          {1, "v1_naive", "one thread per output, operands from global memory"},
      },
      /*best=*/1};
  return ladder;
}

void sgemm(int version, const SgemmArgs& a) {
  if (a.M == 0 || a.N == 0) return;
  switch (version) {
    case 1: return sgemm_v1::run(a);
    default: fail("sgemm: no kernel version ", version);
  }
}

}  // namespace cxr::cuda
