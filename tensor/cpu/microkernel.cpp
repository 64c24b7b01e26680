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

// Scalar "vectors" of one lane, for the row-dot kernel's portable build.
template <typename TT>
struct Scalar {
  using T = TT;
  using V = TT;
  static constexpr int W = 1;
  static V zero() { return V(0); }
  static V loadu(const T* p) { return *p; }
  static V bcast(const T* p) { return *p; }
  static V fma(V a, V b, V c) { return a * b + c; }
  static void storeu(T* p, V v) { *p = v; }
};
}  // namespace
}  // namespace cxr::cpu

#include "tensor/cpu/microkernel_impl.h"

namespace cxr::cpu {
namespace {
template <typename T>
void row_dot_generic(int64_t rows, int64_t n, const T* g, int64_t gs, int64_t gr, const T* x, int64_t xr,
                     const int64_t* taps, T* out, int64_t os) {
  row_dot3<Scalar<T>, 4>(rows, n, g, gs, gr, x, xr, taps, out, os);
}
template <typename T>
void direct_generic(int64_t C, int64_t KH, const T* x, int64_t xc, int64_t xr, const int64_t* taps, const T* w, T* out,
                    int64_t os, int64_t px) {
  direct3<Scalar<T>, 4, 8>(C, KH, x, xc, xr, taps, w, out, os, px);
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
  return {f32,
          1,
          f64,
          1,
          {4, row_dot_generic<float>},
          {4, row_dot_generic<double>},
          {4, 8, direct_generic<float>},
          {4, 8, direct_generic<double>}};
}

}  // namespace cxr::cpu
