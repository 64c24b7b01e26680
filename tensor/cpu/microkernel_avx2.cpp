// microkernel_avx2.cpp — the GEMM tile kernels for AVX2 + FMA (microkernel.h), compiled for that
// instruction set by the target pragma below and only ever called when the CPU reports it.
#include <immintrin.h>

#include "tensor/cpu/microkernel.h"

#if defined(__x86_64__)
#if defined(__clang__)  // (clang ignores GCC's target pragma; this is its equivalent)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace cxr::cpu {
namespace {
struct Avx2F32 {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_load_ps(p); }
  static V loadu(const T* p) { return _mm256_loadu_ps(p); }
  static V bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
};
struct Avx2F64 {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_load_pd(p); }
  static V loadu(const T* p) { return _mm256_loadu_pd(p); }
  static V bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
};
}  // namespace
}  // namespace cxr::cpu

#include "tensor/cpu/microkernel_impl.h"

namespace cxr::cpu {
namespace {
void f32_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  tile_kernel<Avx2F32, 6, 2>(kc, a, b, c, ldc, acc);
}
void f64_6x8(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, bool acc) {
  tile_kernel<Avx2F64, 6, 2>(kc, a, b, c, ldc, acc);
}
void row_dot_f32(int64_t rows, int64_t n, const float* g, int64_t gs, int64_t gr, const float* x, int64_t xr,
                 const int64_t* taps, float* out, int64_t os) {
  row_dot3<Avx2F32, 4>(rows, n, g, gs, gr, x, xr, taps, out, os);
}
void direct_f32(int64_t C, int64_t KH, const float* x, int64_t xc, int64_t xr, const int64_t* taps, const float* w,
                float* out, int64_t os, int64_t px) {
  direct3<Avx2F32, 4, 2>(C, KH, x, xc, xr, taps, w, out, os, px);
}
void direct_f64(int64_t C, int64_t KH, const double* x, int64_t xc, int64_t xr, const int64_t* taps, const double* w,
                double* out, int64_t os, int64_t px) {
  direct3<Avx2F64, 4, 2>(C, KH, x, xc, xr, taps, w, out, os, px);
}
void row_dot_f64(int64_t rows, int64_t n, const double* g, int64_t gs, int64_t gr, const double* x, int64_t xr,
                 const int64_t* taps, double* out, int64_t os) {
  row_dot3<Avx2F64, 4>(rows, n, g, gs, gr, x, xr, taps, out, os);
}
}  // namespace
}  // namespace cxr::cpu
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace cxr::cpu {
MicroKernelSet micro_kernels_avx2() {
  static const MicroKernel<float> f32[] = {{6, 16, f32_6x16, "avx2 6x16"}};
  static const MicroKernel<double> f64[] = {{6, 8, f64_6x8, "avx2 6x8"}};
  return {f32, 1, f64, 1, {4, row_dot_f32}, {4, row_dot_f64}, {4, 16, direct_f32}, {4, 8, direct_f64}};
}
}  // namespace cxr::cpu
#endif
