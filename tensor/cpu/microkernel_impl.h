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
    for (int off = 0; off < kRowBytes; off += 64) __builtin_prefetch(reinterpret_cast<const char*>(c + i * ldc) + off, 1, 3);
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

}  // namespace
}  // namespace cxr::cpu
