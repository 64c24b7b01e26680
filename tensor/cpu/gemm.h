// gemm.h — the packed, cache-blocked GEMM behind every matmul-shaped op on the fast CPU path:
//   C (M x N) = A (M x K) · B (K x N)   [+ C when accumulating],  C row-major with leading dim ldc.
// A and B are never read directly by the inner loop: "packers" copy blocks of them into the
// layout the micro-kernel (microkernel.h) streams, which is also where the layout of the
// operands stops mattering. gemm() takes strided matrices (transposed views cost nothing);
// conv (tensor/cpu/conv.cpp) passes packers that read the image directly (implicit im2col).
//
// Blocking (BLIS's loop nest, with the A micro-panel kept in L1 and the B block in L2):
//   for jc in N step NC:            B block  KC x NC  packed once per (jc, pc)   -> L2 (512 KiB)
//     for pc in K step KC:          (the k order of every C element is fixed: pc ascending)
//       for ic in M step MC:        A block  MC x KC  packed                      -> L2/L3
//         for ir in MC step MR:     A micro-panel MR x KC (12 KiB at 12 x 256)   -> L1
//           for jr in NC step NR:   micro-kernel: C tile MR x NR += A panel · B panel
// Edge tiles are computed into a scratch tile and added, with the same arithmetic as full ones.
//
// Threads and determinism: a parallel GEMM cuts C into column (or row) ranges on tile boundaries,
// each computed by one thread with the serial loop nest above. Every C element is then one
// thread's sum over k in the same fixed order (pc blocks ascending, k ascending within), so the
// result is bit-identical whatever the thread count or chunking.
//
// Cost: 2 M N K flops over (M K + K N + 2 M N) elements moved at the least; at 1024^3 that is 2.1
// GFLOP over 12 MiB, far on the compute side of this machine's balance. Measured figures:
// docs/PERFORMANCE.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/cpu/microkernel.h"
#include "tensor/cpu/runtime.h"

namespace cxr::cpu {

// A(i, j) = p[i * rs + j * cs].
template <typename T>
struct StridedMatrix {
  const T* p;
  int64_t rs, cs;
};

// C = A · B (+ C), C[i * ldc + j]; A, B any strides. Threads per runtime.h (serial when called
// from inside a parallel region).
void gemm(int64_t M, int64_t N, int64_t K, StridedMatrix<float> A, StridedMatrix<float> B, float* C, int64_t ldc,
          bool accumulate);
void gemm(int64_t M, int64_t N, int64_t K, StridedMatrix<double> A, StridedMatrix<double> B, double* C, int64_t ldc,
          bool accumulate);

// ---- the driver, for callers with their own packers ----
// PackA(i0, mc, k0, kc, mr, dst): rows [i0, i0+mc) x cols [k0, k0+kc) of A as ceil(mc/mr) panels,
//   panel p at dst + p*mr*kc holding A(i0 + p*mr + r, k0 + k) at [k*mr + r], rows past mc zero.
// PackB(k0, kc, j0, nc, nr, dst): rows [k0, k0+kc) x cols [j0, j0+nc) of B as ceil(nc/nr) panels,
//   panel q at dst + q*nr*kc holding B(k0 + k, j0 + q*nr + c) at [k*nr + c], cols past nc zero.

template <typename T>
struct GemmBlocking {
  // KC: A micro-panel MR x KC in L1 (12 x 256 floats = 12 KiB); NC: the KC x NC B block in half
  // of a 1 MiB L2; MC: a multiple of every MR.
  static constexpr int64_t kc = 1024 / sizeof(T);
  static constexpr int64_t nc = 512;
  static constexpr int64_t mc = 240;
};

// The micro-kernel for an M-row problem: of the instruction set's kernels, the one whose MR pads
// M the least (ties: the first, widest one).
template <typename T>
const MicroKernel<T>& choose_micro_kernel(int64_t M) {
  const MicroKernelSet set = micro_kernels(cpu_isa());
  const MicroKernel<T>* ks;
  int count;
  if constexpr (sizeof(T) == 4)
    ks = set.f32, count = set.f32_count;
  else
    ks = set.f64, count = set.f64_count;
  const MicroKernel<T>* best = &ks[0];
  for (int i = 1; i < count; ++i) {
    auto padded = [&](int mr) { return (M + mr - 1) / mr * mr; };
    if (padded(ks[i].mr) < padded(best->mr)) best = &ks[i];
  }
  return *best;
}

// C[i0:i1, j0:j1] (+)= A[i0:i1, :] · B[:, j0:j1], serially.
template <typename T, typename PackA, typename PackB>
void gemm_block(const MicroKernel<T>& uk, int64_t K, const PackA& pack_a, const PackB& pack_b, T* C, int64_t ldc,
                bool accumulate, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  using B = GemmBlocking<T>;
  const int mr = uk.mr, nr = uk.nr;
  if (i1 <= i0 || j1 <= j0) return;
  if (K == 0) {
    if (!accumulate)
      for (int64_t i = i0; i < i1; ++i) std::fill(C + i * ldc + j0, C + i * ldc + j1, T(0));
    return;
  }
  const int64_t mc_max = (std::min<int64_t>(B::mc, i1 - i0) + mr - 1) / mr * mr;
  const int64_t nc_max = (std::min<int64_t>(B::nc, j1 - j0) + nr - 1) / nr * nr;
  const int64_t kc_max = std::min<int64_t>(B::kc, K);
  T* buf_a = static_cast<T*>(scratch_buffer(kScratchGemmA, sizeof(T) * mc_max * kc_max));
  T* buf_b = static_cast<T*>(scratch_buffer(kScratchGemmB, sizeof(T) * nc_max * kc_max));
  alignas(64) T tile[16 * 64];  // an edge tile (MR <= 16, NR <= 64)
  for (int64_t jc = j0; jc < j1; jc += B::nc) {
    const int64_t nc = std::min<int64_t>(B::nc, j1 - jc);
    for (int64_t pc = 0; pc < K; pc += B::kc) {
      const int64_t kc = std::min<int64_t>(B::kc, K - pc);
      const bool acc = accumulate || pc > 0;
      pack_b(pc, kc, jc, nc, nr, buf_b);
      for (int64_t ic = i0; ic < i1; ic += B::mc) {
        const int64_t mc = std::min<int64_t>(B::mc, i1 - ic);
        pack_a(ic, mc, pc, kc, mr, buf_a);
        for (int64_t ir = 0; ir < mc; ir += mr) {
          const int64_t rows = std::min<int64_t>(mr, mc - ir);
          const T* a_panel = buf_a + ir * kc;
          for (int64_t jr = 0; jr < nc; jr += nr) {
            const int64_t cols = std::min<int64_t>(nr, nc - jr);
            const T* b_panel = buf_b + jr * kc;
            T* c = C + (ic + ir) * ldc + (jc + jr);
            if (rows == mr && cols == nr) {
              uk.fn(kc, a_panel, b_panel, c, ldc, acc);
            } else {
              uk.fn(kc, a_panel, b_panel, tile, nr, false);
              for (int64_t i = 0; i < rows; ++i)
                for (int64_t j = 0; j < cols; ++j)
                  c[i * ldc + j] = acc ? c[i * ldc + j] + tile[i * nr + j] : tile[i * nr + j];
            }
          }
        }
      }
    }
  }
}

// Below this many multiply-adds a GEMM runs on one thread (a wake-up costs more than it saves).
inline constexpr int64_t kParallelGemmMinWork = int64_t(1) << 19;

// C (+)= A · B on up to num_threads() threads: C is cut into as many column ranges (or row ranges,
// when C is taller than wide), on tile boundaries, as there are threads.
template <typename T, typename PackA, typename PackB>
void gemm_packed(int64_t M, int64_t N, int64_t K, const PackA& pack_a, const PackB& pack_b, T* C, int64_t ldc,
                 bool accumulate) {
  if (M <= 0 || N <= 0) return;
  const MicroKernel<T>& uk = choose_micro_kernel<T>(M);
  const int threads = in_parallel_region() ? 1 : num_threads();
  if (threads <= 1 || M * N * std::max<int64_t>(K, 1) < kParallelGemmMinWork) {
    gemm_block(uk, K, pack_a, pack_b, C, ldc, accumulate, 0, M, 0, N);
    return;
  }
  const bool split_n = N >= M;
  const int64_t unit = split_n ? uk.nr : uk.mr, extent = split_n ? N : M;
  const int64_t units = (extent + unit - 1) / unit;
  const int64_t parts = std::min<int64_t>(threads, units);
  parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t lo = std::min(extent, units * p / parts * unit),
                    hi = std::min(extent, units * (p + 1) / parts * unit);
      if (split_n)
        gemm_block(uk, K, pack_a, pack_b, C, ldc, accumulate, 0, M, lo, hi);
      else
        gemm_block(uk, K, pack_a, pack_b, C, ldc, accumulate, lo, hi, 0, N);
    }
  });
}

// ---- packers for strided matrices ----
// dst[k*mr + r] = src[r*rs + k] for r < rows, 0 for rows <= r < mr; k < kc. The transposing copy
// that packing a row-major A needs (rows of A become the lanes of a panel): SSE 4 x 4 blocks for
// float (baseline x86-64, 3-4x the scalar loop), scalar otherwise.
void pack_transposed(const float* src, int64_t rs, int64_t rows, int64_t kc, int mr, float* dst);
void pack_transposed(const double* src, int64_t rs, int64_t rows, int64_t kc, int mr, double* dst);

template <typename T>
struct PackStridedA {
  StridedMatrix<T> a;
  void operator()(int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, T* dst) const {
    for (int64_t p = 0; p < mc; p += mr, dst += mr * kc) {
      const int64_t rows = std::min<int64_t>(mr, mc - p);
      const T* src = a.p + (i0 + p) * a.rs + k0 * a.cs;
      if (a.rs == 1 && rows == mr) {  // column-major A: each k is mr contiguous values
        for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * mr, src + k * a.cs, sizeof(T) * mr);
        continue;
      }
      if (a.cs == 1) {  // row-major A: a transpose of rows x kc into kc x mr
        pack_transposed(src, a.rs, rows, kc, mr, dst);
        continue;
      }
      for (int64_t k = 0; k < kc; ++k) {
        T* d = dst + k * mr;
        const T* s = src + k * a.cs;
        for (int64_t r = 0; r < rows; ++r) d[r] = s[r * a.rs];
        for (int64_t r = rows; r < mr; ++r) d[r] = T(0);
      }
    }
  }
};

template <typename T>
struct PackStridedB {
  StridedMatrix<T> b;
  void operator()(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, T* dst) const {
    for (int64_t q = 0; q < nc; q += nr, dst += nr * kc) {
      const int64_t cols = std::min<int64_t>(nr, nc - q);
      const T* src = b.p + k0 * b.rs + (j0 + q) * b.cs;
      if (b.cs == 1 && cols == nr) {  // row-major B: each k is nr contiguous values
        for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * nr, src + k * b.rs, sizeof(T) * nr);
        continue;
      }
      if (b.rs == 1) {  // column-major B: a transpose of cols x kc into kc x nr
        pack_transposed(src, b.cs, cols, kc, nr, dst);
        continue;
      }
      for (int64_t k = 0; k < kc; ++k) {
        T* d = dst + k * nr;
        const T* s = src + k * b.rs;
        for (int64_t c = 0; c < cols; ++c) d[c] = s[c * b.cs];
        for (int64_t c = cols; c < nr; ++c) d[c] = T(0);
      }
    }
  }
};

}  // namespace cxr::cpu
