// microkernel.h — the innermost loop of the packed GEMM (gemm.h): one MR x NR tile of C from a
// packed MR-row panel of A and a packed NR-column panel of B,
//   c[i*ldc + j] = (accumulate ? c[i*ldc + j] : 0) + sum_{k < kc} a[k*MR + i] * b[k*NR + j].
// The sum is accumulated in registers in k order, then added to c once, so an element's result
// does not depend on which tile, thread or call computed it (tests/test_cpu_gemm.cpp checks).
// One kernel per instruction set, chosen at run time (runtime.h):
//   float:  AVX-512 MR x 32 (MR = 8 or 12), AVX2+FMA 6 x 16, generic 4 x 16
//   double: AVX-512 MR x 16 (MR = 8 or 12), AVX2+FMA 6 x 8,  generic 4 x 8
// Why these shapes: a tile keeps MR*NR/W accumulators (W lanes per vector) plus NR/W loads of B
// and one broadcast of A in registers: 24 + 2 + 1 of the 32 zmm at 12 x 32, 12 + 2 + 1 of the 16
// ymm at 6 x 16. Per k step that is MR*NR/W FMAs for NR/W + MR loads: enough independent FMAs to
// cover their 4-cycle latency on both FMA pipes, and loads well under the two load ports.
#pragma once

#include <cstdint>

#include "tensor/cpu/runtime.h"

namespace cxr::cpu {

template <typename T>
using MicroKernelFn = void(int64_t kc, const T* a, const T* b, T* c, int64_t ldc, bool accumulate);

template <typename T>
struct MicroKernel {
  int mr = 0, nr = 0;
  MicroKernelFn<T>* fn = nullptr;
  const char* name = "";
};

// The backward-weight row-dot kernel of conv.cpp (stride-1 convolutions with few channels): for
// OB output channels o and the 3 taps t of a kernel row,
//   out[o * os + t] += sum_{r < rows} sum_{p < n} g[o * gs + r * gr + p] * x[r * xr + taps[t] + p]
// (g: rows of the upstream gradient; x: rows of the zero-padded input, taps[t] where tap t's pixels
// start: t for a stride-1 conv, in the even or odd half of a split row for stride 2). The
// sums run along the pixels in W-lane vectors, rows and pixels in order, the W lanes then added
// 0..W-1, then the pixels past the last full vector: no packing and no transpose, and an order that
// depends only on the shape.
template <typename T>
using RowDotFn = void(int64_t rows, int64_t n, const T* g, int64_t gs, int64_t gr, const T* x, int64_t xr,
                      const int64_t* taps, T* out, int64_t os);
template <typename T>
struct RowDotKernel {
  int ob = 0;  // output channels per call
  RowDotFn<T>* fn = nullptr;
};

// The direct convolution kernel of conv.cpp (stride-1 convolutions with few channels, 3-wide kernel
// rows): OB output channels o and a run of `px` output pixels of one output row,
//   out[o * os + p] = sum_{c < C, kh < KH, t < 3} w[((c * KH + kh) * 3 + t) * OB + o] * x[c * xc + kh * xr + taps[t] +
//   p]
// (x: the zero-padded input at the run's first pixel, taps as for the row-dot kernel, whole vectors
// readable past px). The accumulators (OB x px / W vectors) stay in registers over the whole (c, kh, t) sum,
// added in that order; px <= the kernel's `pixels`, computed in full vectors, stored up to px.
template <typename T>
using DirectFn = void(int64_t C, int64_t KH, const T* x, int64_t xc, int64_t xr, const int64_t* taps, const T* w,
                      T* out, int64_t os, int64_t px);
template <typename T>
struct DirectKernel {
  int ob = 0;      // output channels per call
  int pixels = 0;  // pixels per call (at most)
  DirectFn<T>* fn = nullptr;
};

// The kernels for `isa` (the best one first): the GEMM driver picks, per call, the MR that wastes
// the fewest padded rows of A. Always at least one.
struct MicroKernelSet {
  const MicroKernel<float>* f32;
  int f32_count;
  const MicroKernel<double>* f64;
  int f64_count;
  RowDotKernel<float> row_dot_f32;
  RowDotKernel<double> row_dot_f64;
  DirectKernel<float> direct_f32;
  DirectKernel<double> direct_f64;
};
MicroKernelSet micro_kernels(Isa isa);

}  // namespace cxr::cpu
