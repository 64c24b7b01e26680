// microkernel_impl.h — the one tile kernel (microkernel.h) written once over a small SIMD traits
// type S: included by each microkernel_<isa>.cpp after its `#pragma GCC target`, so every function
// here is compiled for that instruction set (and has internal linkage: no two files' copies can
// be merged by the linker).
//   S::V vector type, S::W lanes; zero(), load(p) (aligned), loadu(p), bcast(p), fma(a, b, c) = a*b+c,
//   add(a, b), storeu(p, v).
#pragma once

#include <cstdint>

namespace cxr::cpu {
namespace {

// MR rows x NV vectors of C: MR*NV accumulators live in registers for the whole k loop.
template <class S, int MR, int NV>
void tile_kernel(int64_t kc, const typename S::T* a, const typename S::T* b, typename S::T* c, int64_t ldc,
                 bool accumulate) {
  using V = typename S::V;
  constexpr int W = S::W;
  // The C tile is read and written only after the k loop: fetch its lines now, so that the misses
  // (C rows are ldc apart; a power-of-two ldc maps them all to one L1 set) overlap the FMAs.
  constexpr int kRowBytes = NV * W * int(sizeof(typename S::T));
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int off = 0; off < kRowBytes; off += 64)
      __builtin_prefetch(reinterpret_cast<const char*>(c + i * ldc) + off, 1, 3);
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = S::zero();
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = S::load(b + j * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V av = S::bcast(a + i);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = S::fma(av, bv[j], acc[i][j]);
    }
    a += MR;
    b += NV * W;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      typename S::T* p = c + i * ldc + j * W;
      S::storeu(p, accumulate ? S::add(S::loadu(p), acc[i][j]) : acc[i][j]);
    }
}

// The row-dot kernel of microkernel.h: OB x 3 vector accumulators (24 + 3 + 1 zmm at OB = 8).
template <class S, int OB>
void row_dot3(int64_t rows, int64_t n, const typename S::T* g, int64_t gs, int64_t gr, const typename S::T* x,
              int64_t xr, const int64_t* taps, typename S::T* out, int64_t os) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[OB][3];
#pragma GCC unroll 16
  for (int o = 0; o < OB; ++o)
    for (int t = 0; t < 3; ++t) acc[o][t] = S::zero();
  T tail[OB][3] = {};
  const int64_t nv = n / W * W, t0 = taps[0], t1 = taps[1], t2 = taps[2];
  for (int64_t r = 0; r < rows; ++r) {
    const T* gp = g + r * gr;
    const T* xp = x + r * xr;
    for (int64_t p = 0; p < nv; p += W) {
      const V x0 = S::loadu(xp + t0 + p), x1 = S::loadu(xp + t1 + p), x2 = S::loadu(xp + t2 + p);
#pragma GCC unroll 16
      for (int o = 0; o < OB; ++o) {
        const V gv = S::loadu(gp + o * gs + p);
        acc[o][0] = S::fma(gv, x0, acc[o][0]);
        acc[o][1] = S::fma(gv, x1, acc[o][1]);
        acc[o][2] = S::fma(gv, x2, acc[o][2]);
      }
    }
    for (int64_t p = nv; p < n; ++p)
      for (int o = 0; o < OB; ++o)
        for (int t = 0; t < 3; ++t) tail[o][t] += gp[o * gs + p] * xp[taps[t] + p];
  }
  for (int o = 0; o < OB; ++o)
    for (int t = 0; t < 3; ++t) {
      T lanes[W];
      S::storeu(lanes, acc[o][t]);
      T sum = 0;
      for (int l = 0; l < W; ++l) sum += lanes[l];
      out[o * os + t] += sum + tail[o][t];
    }
}

// The direct kernel of microkernel.h: OB x NV vector accumulators (16 + 6 + 1 zmm at 8 x 2).
template <class S, int OB, int NV>
void direct3(int64_t C, int64_t KH, const typename S::T* x, int64_t xc, int64_t xr, const int64_t* taps,
             const typename S::T* w, typename S::T* out, int64_t os, int64_t px) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[OB][NV];
#pragma GCC unroll 16
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[o][v] = S::zero();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kh = 0; kh < KH; ++kh, w += 3 * OB) {
      const T* xp = x + c * xc + kh * xr;
      V xv[3][NV];
#pragma GCC unroll 3
      for (int t = 0; t < 3; ++t)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) xv[t][v] = S::loadu(xp + taps[t] + v * W);
#pragma GCC unroll 3
      for (int t = 0; t < 3; ++t)
#pragma GCC unroll 16
        for (int o = 0; o < OB; ++o) {
          const V wv = S::bcast(w + t * OB + o);
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[o][v] = S::fma(wv, xv[t][v], acc[o][v]);
        }
    }
  if (px == NV * W) {
#pragma GCC unroll 16
    for (int o = 0; o < OB; ++o)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) S::storeu(out + o * os + v * W, acc[o][v]);
    return;
  }
  for (int o = 0; o < OB; ++o) {
    T tile[NV * W];
    for (int v = 0; v < NV; ++v) S::storeu(tile + v * W, acc[o][v]);
    for (int64_t p = 0; p < px; ++p) out[o * os + p] = tile[p];
  }
}

}  // namespace
}  // namespace cxr::cpu
