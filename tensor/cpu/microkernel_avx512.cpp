// microkernel_avx512.cpp — the GEMM tile kernels for AVX-512F (microkernel.h), compiled for that
// instruction set by the target pragma below and only ever called when the CPU reports it.
#include <immintrin.h>

#include "tensor/cpu/microkernel.h"

#if defined(__x86_64__)
#if defined(__clang__)  // (clang ignores GCC's target pragma; this is its equivalent)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#endif

namespace cxr::cpu {
namespace {
struct Avx512F32 {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_load_ps(p); }
  static V loadu(const T* p) { return _mm512_loadu_ps(p); }
  static V bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
};
struct Avx512F64 {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_load_pd(p); }
  static V loadu(const T* p) { return _mm512_loadu_pd(p); }
  static V bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
};
}  // namespace
}  // namespace cxr::cpu

#include "tensor/cpu/microkernel_impl.h"

namespace cxr::cpu {
namespace {
void f32_12x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  tile_kernel<Avx512F32, 12, 2>(kc, a, b, c, ldc, acc);
}
void f32_8x32(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool acc) {
  tile_kernel<Avx512F32, 8, 2>(kc, a, b, c, ldc, acc);
}
void f64_12x16(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, bool acc) {
  tile_kernel<Avx512F64, 12, 2>(kc, a, b, c, ldc, acc);
}
void f64_8x16(int64_t kc, const double* a, const double* b, double* c, int64_t ldc, bool acc) {
  tile_kernel<Avx512F64, 8, 2>(kc, a, b, c, ldc, acc);
}
void row_dot_f32(int64_t rows, int64_t n, const float* g, int64_t gs, int64_t gr, const float* x, int64_t xr,
                 const int64_t* taps, float* out, int64_t os) {
  row_dot3<Avx512F32, 8>(rows, n, g, gs, gr, x, xr, taps, out, os);
}
void direct_f32(int64_t C, int64_t KH, const float* x, int64_t xc, int64_t xr, const int64_t* taps, const float* w,
                float* out, int64_t os, int64_t px) {
  direct3<Avx512F32, 8, 2>(C, KH, x, xc, xr, taps, w, out, os, px);
}
void direct_f64(int64_t C, int64_t KH, const double* x, int64_t xc, int64_t xr, const int64_t* taps, const double* w,
                double* out, int64_t os, int64_t px) {
  direct3<Avx512F64, 8, 2>(C, KH, x, xc, xr, taps, w, out, os, px);
}
void row_dot_f64(int64_t rows, int64_t n, const double* g, int64_t gs, int64_t gr, const double* x, int64_t xr,
                 const int64_t* taps, double* out, int64_t os) {
  row_dot3<Avx512F64, 8>(rows, n, g, gs, gr, x, xr, taps, out, os);
}
}  // namespace
}  // namespace cxr::cpu
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace cxr::cpu {
MicroKernelSet micro_kernels_avx512() {
  static const MicroKernel<float> f32[] = {{12, 32, f32_12x32, "avx512 12x32"}, {8, 32, f32_8x32, "avx512 8x32"}};
  static const MicroKernel<double> f64[] = {{12, 16, f64_12x16, "avx512 12x16"}, {8, 16, f64_8x16, "avx512 8x16"}};
  return {f32, 2, f64, 2, {8, row_dot_f32}, {8, row_dot_f64}, {8, 32, direct_f32}, {8, 16, direct_f64}};
}
}  // namespace cxr::cpu
#endif
