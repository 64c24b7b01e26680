// v3_implicit_gemm.cuh — conv2d v3: the backend's implicit GEMM (cuda/conv.cu on the GEMM core of
// cuda/gemm.cuh, SGEMM v3's tiling), as a rung of the ladder. No im2col buffer: loader functors
// map each GEMM element to the input, weight or gradient element it stands for (64-bit index
// arithmetic per element, through the tensors' strides), so every pass is one GEMM:
//   forward         (C_out x N HO WO)    = W . im2col(x)
//   backward data   (C_in x N H W)       = W' . G (G: g's taps, 0 between a strided conv's outputs)
//   backward weight (C_out x C_in KH KW) = g . im2col(x)^T, a deterministic split-K (chunks of
//                   >= 1024 k, enough for 256 blocks, added in order in double)
//   Tiles 128 x 128 x 8, 256 threads, 8 x 8 outputs per thread, scalar loads, one shared buffer.
//   What it buys over v2: reuse along the channels. Each value staged in shared memory feeds 8
//   FMAs of a thread and 128 rows or columns of the tile, so once C_out and C_in KH KW fill the
//   tiles the GEMM is compute-bound (32 flop per byte of global traffic). Where they do not, the
//   tile is mostly padding: the stem's forward is an 8 x 4.2M x 9 GEMM, its 128 x 128 x 8 tiles
//   1/16 full in rows and 9/16 in K, so it does ~28x the real multiplies; layer6's 192-channel
//   GEMMs have 1024 columns: 16 tiles on 132 SMs. Those are what v2 and v4 address.
//   The per-element index arithmetic (divisions by KH KW, KW, HO WO, WO in 64 bits, ~6 per load)
//   costs more instructions than the FMAs it feeds at 3x3 (1 load per 8 FMAs of a thread, but
//   ~20 instructions per 64-bit division).
//   flops 2 N HO WO C_out C_in KH KW per pass (+ the padding's zeros at the edges and, for
//   backward data at stride s, the 1 - 1/s^2 of G that is 0). Bytes: (BM + BN) BK floats of
//   global loads per BM BN BK FMAs (1/16 B per FMA against v1's 8) when the tiles are full.
//   ptxas (nvcc 13.0, sm_90): 150 registers for forward and backward data, 196 for the split-K
//   backward weight, no spills; 8.3 KB shared: 1 block of 256 threads per SM.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/conv2d/conv2d.h"

namespace cxr::cuda::conv2d_v3 {

inline void forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p) {
  gemm_conv2d(x, w, bias, out, p);
}
inline void backward_data(const Tensor& g, const Tensor& w, const Tensor& bias, const Tensor& gx,
                          const Conv2dParams& p) {
  gemm_conv2d_backward_data(g, w, bias, gx, p);
}
inline void backward_weight(const Tensor& g, const Tensor& x, const Tensor& gw, const Conv2dParams& p) {
  gemm_conv2d_backward_weight(g, x, gw, p);
}

}  // namespace cxr::cuda::conv2d_v3
