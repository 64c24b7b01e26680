// v1_direct.cuh — conv2d v1: the direct convolution, one thread per output element, every operand
// read straight from global memory. The correct baseline the other versions are checked against on
// the device, for all three passes:
//   forward: out[n, o, oh, ow] = bias[o] + sum over (c, kh, kw) of x[n, c, ih, iw] w[o, c, kh, kw],
//     ih = oh sh - ph + kh dh (taps in the padding skipped). 2 loads per FMA.
//   backward data: gx[n, c, ih, iw] = sum over (o, kh, kw) with ih + ph - kh dh = oh sh (exactly,
//     0 <= oh < HO; likewise w) of g[n, o, oh, ow] w[o, c, kh, kw]: every thread tests all KH KW
//     taps, a fraction 1/(sh sw) of which hit at stride s.
//   backward weight: gw[o, c, kh, kw] = sum over (n, oh, ow) of g[n, o, oh, ow] x[n, c, ih, iw]: a
//     sum of N HO WO products (4.2M for the stem at batch 64) for each of only C_out C_in KH KW
//     outputs (72 for the stem), so "one thread per output" is one BLOCK per output here: its 128
//     threads take every 128th (n, oh, ow) in float32, then add their sums in a fixed tree
//     (deterministic, no atomics).
//   flops 2 N HO WO C_out C_in KH KW per pass (the stem at batch 64: 0.60 GFLOP; 8 -> 8 3x3 at
//   128^2: 1.2 GFLOP). Bytes: 8 per FMA of load requests (L1/L2 hits mostly) against compulsory
//   traffic of x + w + out once; a warp (32 consecutive ow of one row) issues 2 loads per 32 FMAs,
//   the load path caps it at 16 of the SM's 128 FMAs per clock (as SGEMM v1): >= 8x the FP32
//   floor, and the index arithmetic (divisions per tap of the backward ones) comes on top.
//   ptxas (nvcc 13.0, sm_90 / sm_80): 38 / 39 registers for forward and backward data, 36 / 34 for
//   backward weight (512 B shared), no spills; 256 threads a block (backward weight 128).
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/conv2d/common.cuh"

namespace cxr::cuda::conv2d_v1 {

using conv2d_common::Dims;

__global__ void forward_kernel(Dims d, const float* x, const float* w, const float* bias, float* out) {
  const int64_t total = int64_t(d.N) * d.C_out * d.HO * d.WO;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(blockDim.x) * gridDim.x) {
    const int ow = int(i % d.WO), oh = int(i / d.WO % d.HO), o = int(i / (int64_t(d.WO) * d.HO) % d.C_out),
              n = int(i / (int64_t(d.WO) * d.HO * d.C_out));
    float acc = 0;
    for (int c = 0; c < d.C_in; ++c) {
      const float* xc = x + (n * d.C_in + c) * d.H * d.W;
      const float* wc = w + (o * d.C_in + c) * d.KH * d.KW;
      for (int kh = 0; kh < d.KH; ++kh) {
        const int ih = oh * d.sh - d.ph + kh * d.dh;
        if (ih < 0 || ih >= d.H) continue;
        for (int kw = 0; kw < d.KW; ++kw) {
          const int iw = ow * d.sw - d.pw + kw * d.dw;
          if (iw >= 0 && iw < d.W) acc += xc[ih * d.W + iw] * wc[kh * d.KW + kw];
        }
      }
    }
    out[i] = bias ? acc + bias[o] : acc;
  }
}

__global__ void backward_data_kernel(Dims d, const float* g, const float* w, const float* bias, float* gx) {
  const int64_t total = int64_t(d.N) * d.C_in * d.H * d.W;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(blockDim.x) * gridDim.x) {
    const int iw = int(i % d.W), ih = int(i / d.W % d.H), c = int(i / (int64_t(d.W) * d.H) % d.C_in),
              n = int(i / (int64_t(d.W) * d.H * d.C_in));
    float acc = 0;
    for (int o = 0; o < d.C_out; ++o) {
      const float* go = g + (n * d.C_out + o) * d.HO * d.WO;
      const float* wo = w + (o * d.C_in + c) * d.KH * d.KW;
      for (int kh = 0; kh < d.KH; ++kh) {
        const int th = ih + d.ph - kh * d.dh;
        if (th < 0 || th % d.sh != 0 || th / d.sh >= d.HO) continue;
        for (int kw = 0; kw < d.KW; ++kw) {
          const int tw = iw + d.pw - kw * d.dw;
          if (tw < 0 || tw % d.sw != 0 || tw / d.sw >= d.WO) continue;
          acc += go[(th / d.sh) * d.WO + tw / d.sw] * wo[kh * d.KW + kw];
        }
      }
    }
    gx[i] = bias ? acc + bias[c] : acc;
  }
}

constexpr int kWeightThreads = 128;

// Block b computes gw's element b (grid: one block per weight, in a grid-stride loop).
__global__ void __launch_bounds__(kWeightThreads) backward_weight_kernel(Dims d, const float* g, const float* x,
                                                                         float* gw) {
  __shared__ float partial[kWeightThreads];
  const int64_t weights = int64_t(d.C_out) * d.C_in * d.KH * d.KW, K = int64_t(d.N) * d.HO * d.WO;
  const int t = int(threadIdx.x);
  for (int64_t b = blockIdx.x; b < weights; b += gridDim.x) {
    const int kw = int(b % d.KW), kh = int(b / d.KW % d.KH), c = int(b / (d.KW * d.KH) % d.C_in),
              o = int(b / (int64_t(d.KW) * d.KH * d.C_in));
    float acc = 0;
    for (int64_t k = t; k < K; k += kWeightThreads) {
      const int ow = int(k % d.WO), oh = int(k / d.WO % d.HO), n = int(k / (int64_t(d.WO) * d.HO));
      const int ih = oh * d.sh - d.ph + kh * d.dh, iw = ow * d.sw - d.pw + kw * d.dw;
      if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W)
        acc += g[((n * d.C_out + o) * d.HO + oh) * d.WO + ow] * x[((n * d.C_in + c) * d.H + ih) * d.W + iw];
    }
    partial[t] = acc;
    __syncthreads();
    for (int half = kWeightThreads / 2; half > 0; half /= 2) {  // a fixed tree: the same sums every run
      if (t < half) partial[t] += partial[t + half];
      __syncthreads();
    }
    if (t == 0) gw[b] = partial[0];
    __syncthreads();  // partial[0] is read before the next weight overwrites it
  }
}

inline void forward(const Dims& d, const float* x, const float* w, const float* bias, float* out) {
  launch("conv2d_v1_direct forward", forward_kernel, blocks_for(int64_t(d.N) * d.C_out * d.HO * d.WO), kBlock, d, x,
         w, bias, out);
}
inline void backward_data(const Dims& d, const float* g, const float* w, const float* bias, float* gx) {
  launch("conv2d_v1_direct backward data", backward_data_kernel, blocks_for(int64_t(d.N) * d.C_in * d.H * d.W), kBlock,
         d, g, w, bias, gx);
}
inline void backward_weight(const Dims& d, const float* g, const float* x, float* gw) {
  const int64_t weights = int64_t(d.C_out) * d.C_in * d.KH * d.KW;
  launch("conv2d_v1_direct backward weight", backward_weight_kernel, dim3(unsigned(weights < 65535 ? weights : 65535)),
         dim3(kWeightThreads), d, g, x, gw);
}

}  // namespace cxr::cuda::conv2d_v1
