// microkernel.cpp — the portable tile kernels (plain C++, any CPU) and the run-time choice among
// the instruction-set-specific ones (microkernel_avx2.cpp, microkernel_avx512.cpp).
#include "tensor/cpu/microkernel.h"

namespace cxr::cpu {

#if defined(__x86_64__)
MicroKernelSet micro_kernels_avx512();
MicroKernelSet micro_kernels_avx2();
#endif

namespace {
// The same contract as the SIMD kernels: accumulators in k order, added to c once.
template <typename T, int MR, int NR>
void generic_kernel(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool accumulate) {
  T acc[MR][NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}
}  // namespace

MicroKernelSet micro_kernels(Isa isa) {
#if defined(__x86_64__)
  if (isa == Isa::Avx512) return micro_kernels_avx512();
  if (isa == Isa::Avx2) return micro_kernels_avx2();
#endif
  (void)isa;
  static const MicroKernel<float> f32[] = {{4, 16, generic_kernel<float, 4, 16>, "generic 4x16"}};
  static const MicroKernel<double> f64[] = {{4, 8, generic_kernel<double, 4, 8>, "generic 4x8"}};
  return {f32, 1, f64, 1};
}

}  // namespace cxr::cpu
