// v2_direct_tiled.cuh — conv2d v2: the direct convolution with shared-memory input tiles, for the
// early layers of the seed ResNets (1 -> 8 and 8 -> 8 channels at 256^2 and 128^2: tiny C, huge
// maps). There an implicit GEMM's 64- or 128-row tiles are 1/8 to 1/16 full (the GEMM has C = 8
// rows) and its K (C_in KH KW = 9 or 72) is a few steps, so most of its work is padding; the
// direct form does only the real work and reads each input once.
//   A block of 32 x 8 threads owns a tile of 32 columns x 8 rows (rows 1, 2 or 4 rows per thread:
//   up to 32 x 32 pixels) of one image and 8 channels of the pass's output:
//   forward: per input channel c it stages the input patch under the tile (34 x 34 floats at
//     stride 1, 65 x 65 at stride 2, for 3x3) and w[o0..o0+7, c] in shared memory; each thread
//     keeps 4 rows x 8 channels = 32 sums in registers, so a patch value read from shared memory
//     feeds 8 FMAs (v1: 1 per 2 loads) and each input value comes from DRAM once per 8 output
//     channels (the halo adds 6% at stride 1).
//   backward data: the same over gx's tile, staging per output channel o the patch of g the tile's
//     taps reach (the zeros between a strided conv's outputs are never stored: a thread tests each
//     tap for divisibility, ~1/(sh sw) of them hit).
//   backward weight: gw has only C_out C_in KH KW elements (576 for 8 -> 8) but each sums N HO WO
//     products. A block takes one input channel, 8 output channels and a fixed chunk of (image,
//     tile) work items; per item it stages the x patch, each thread reads g for its pixels from
//     global memory (coalesced) and keeps 8 channels x 9 taps = 72 sums in registers; then the
//     block adds them by warp shuffles and shared memory in a fixed tree, writes one partial per
//     chunk, and a second pass adds the chunks in order z = 0, 1, ... in double (deterministic;
//     the chunking depends on the shape only). Kernels of more than 9 taps run in groups of 9.
//   flops as v1. Bytes: the stem at batch 64 moves >= 16.8 MB in and 134 MB out (45 us at 3.35
//   TB/s against 9 us of FP32 at 67 TFLOP/s); 8 -> 8 at 128^2: 33.5 + 33.5 MB (20 us) against
//   1.2 GFLOP (18 us): memory-bound or balanced, so v2 is designed against DRAM bandwidth: each
//   input read once per 8 channels, the output written once, coalesced. Shared memory per FMA:
//   forward (4 patch + 8 broadcast weight loads) per 32 FMAs of a thread; stride 2 gives 2-way
//   bank conflicts on the patch reads. Shared: 24 KB of patch + 2 KB of weights.
//   Limits: a tile's patch must fit 6144 floats (the host halves the rows per thread until it
//   does) and forward / backward data at most 64 taps; shapes beyond them run v1's kernel.
//   ptxas (nvcc 13.0, sm_90 / sm_80): forward 58 / 64 registers, backward data 69 / 74, backward
//   weight 154 / 151 (its 72 sums; capping it at 128 for 2 blocks per SM spills), no spills; 26 KB
//   shared, 256 threads: backward weight runs 8 warps per SM, the others up to 8 blocks.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/conv2d/common.cuh"
#include "cuda/kernels/conv2d/v1_direct.cuh"

namespace cxr::cuda::conv2d_v2 {

using conv2d_common::Dims;
using conv2d_common::floor_div;

constexpr int kTW = 32, kTY = 8, kMaxRows = 4, kCh = 8, kPatch = 6144, kMaxTaps = 64, kTapGroup = 9;
constexpr int kThreads = kTW * kTY;

// The tile plan of a pass: rows per thread, and whether the patch fits.
struct Plan {
  int rows = 4;
  int tiles_w = 0, tiles = 0;
  bool fits = false;
};

// Output extent (forward, backward weight: HO x WO; backward data: H x W), and the patch size of a
// tile of 32 x 8 rows.
inline int patch_floats(ConvPass pass, const Dims& d, int rows) {
  const int th = kTY * rows;
  if (pass == ConvPass::BackwardData)
    return ((th - 1 + (d.KH - 1) * d.dh) / d.sh + 2) * ((kTW - 1 + (d.KW - 1) * d.dw) / d.sw + 2);
  return ((th - 1) * d.sh + (d.KH - 1) * d.dh + 1) * ((kTW - 1) * d.sw + (d.KW - 1) * d.dw + 1);
}

inline Plan plan(ConvPass pass, const Dims& d) {
  Plan p;
  const int eh = pass == ConvPass::BackwardData ? d.H : d.HO, ew = pass == ConvPass::BackwardData ? d.W : d.WO;
  while (p.rows > 1 && kTY * (p.rows / 2) >= eh) p.rows /= 2;  // no more rows than the map has
  while (p.rows > 1 && patch_floats(pass, d, p.rows) > kPatch) p.rows /= 2;
  p.tiles_w = (ew + kTW - 1) / kTW;
  const int64_t tiles = int64_t(p.tiles_w) * ((eh + kTY * p.rows - 1) / (kTY * p.rows));
  const int channels = pass == ConvPass::BackwardData ? d.C_in : d.C_out;
  p.tiles = int(tiles < INT32_MAX ? tiles : INT32_MAX);
  p.fits = patch_floats(pass, d, p.rows) <= kPatch && tiles < INT32_MAX && (channels + kCh - 1) / kCh <= 65535 &&
           d.N <= 65535 && (pass == ConvPass::BackwardWeight || d.KH * d.KW <= kMaxTaps);
  return p;
}

__global__ void __launch_bounds__(kThreads) forward_kernel(Dims d, int rows, int tiles_w, const float* x,
                                                           const float* w, const float* bias, float* out) {
  __shared__ float patch[kPatch];
  __shared__ float wsh[kMaxTaps * kCh];  // wsh[tap][o]
  const int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * kTW + tx;
  const int oh0 = int(blockIdx.x) / tiles_w * kTY * rows, ow0 = int(blockIdx.x) % tiles_w * kTW;
  const int o0 = int(blockIdx.y) * kCh, n = int(blockIdx.z), taps = d.KH * d.KW;
  const int PH = (kTY * rows - 1) * d.sh + (d.KH - 1) * d.dh + 1, PW = (kTW - 1) * d.sw + (d.KW - 1) * d.dw + 1;
  const int ih0 = oh0 * d.sh - d.ph, iw0 = ow0 * d.sw - d.pw;
  float acc[kMaxRows][kCh] = {};
  for (int c = 0; c < d.C_in; ++c) {
    __syncthreads();  // the previous channel's patch is no longer read
    const float* xc = x + (n * d.C_in + c) * d.H * d.W;
    for (int e = tid; e < PH * PW; e += kThreads) {
      const int ih = ih0 + e / PW, iw = iw0 + e % PW;
      patch[e] = ih >= 0 && ih < d.H && iw >= 0 && iw < d.W ? xc[ih * d.W + iw] : 0.f;
    }
    for (int e = tid; e < taps * kCh; e += kThreads) {
      const int t = e / kCh, o = o0 + e % kCh;
      wsh[e] = o < d.C_out ? w[(o * d.C_in + c) * taps + t] : 0.f;
    }
    __syncthreads();
    for (int kh = 0; kh < d.KH; ++kh)
      for (int kw = 0; kw < d.KW; ++kw) {
        float wv[kCh];
#pragma unroll
        for (int o = 0; o < kCh; ++o) wv[o] = wsh[(kh * d.KW + kw) * kCh + o];
        const float* p = patch + kh * d.dh * PW + tx * d.sw + kw * d.dw;
#pragma unroll
        for (int r = 0; r < kMaxRows; ++r)
          if (r < rows) {
            const float v = p[(ty + kTY * r) * d.sh * PW];
#pragma unroll
            for (int o = 0; o < kCh; ++o) acc[r][o] += v * wv[o];
          }
      }
  }
  const int ow = ow0 + tx;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int oh = oh0 + ty + kTY * r;
    if (r >= rows || oh >= d.HO || ow >= d.WO) continue;
#pragma unroll
    for (int o = 0; o < kCh; ++o)
      if (o0 + o < d.C_out)
        out[((n * d.C_out + o0 + o) * d.HO + oh) * d.WO + ow] = bias ? acc[r][o] + bias[o0 + o] : acc[r][o];
  }
}

__global__ void __launch_bounds__(kThreads) backward_data_kernel(Dims d, int rows, int tiles_w, const float* g,
                                                                 const float* w, const float* bias, float* gx) {
  __shared__ float patch[kPatch];
  __shared__ float wsh[kMaxTaps * kCh];  // wsh[tap][c]
  const int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * kTW + tx;
  const int ih0 = int(blockIdx.x) / tiles_w * kTY * rows, iw0 = int(blockIdx.x) % tiles_w * kTW;
  const int c0 = int(blockIdx.y) * kCh, n = int(blockIdx.z), taps = d.KH * d.KW;
  // The outputs whose taps reach the tile: ih + ph - kh dh = oh sh for some ih in the tile, kh < KH.
  const int oh_lo = floor_div(ih0 + d.ph - (d.KH - 1) * d.dh, d.sh);
  const int ow_lo = floor_div(iw0 + d.pw - (d.KW - 1) * d.dw, d.sw);
  const int PH = floor_div(ih0 + kTY * rows - 1 + d.ph, d.sh) - oh_lo + 1;
  const int PW = floor_div(iw0 + kTW - 1 + d.pw, d.sw) - ow_lo + 1;
  float acc[kMaxRows][kCh] = {};
  for (int o = 0; o < d.C_out; ++o) {
    __syncthreads();
    const float* go = g + (n * d.C_out + o) * d.HO * d.WO;
    for (int e = tid; e < PH * PW; e += kThreads) {
      const int oh = oh_lo + e / PW, ow = ow_lo + e % PW;
      patch[e] = oh >= 0 && oh < d.HO && ow >= 0 && ow < d.WO ? go[oh * d.WO + ow] : 0.f;
    }
    for (int e = tid; e < taps * kCh; e += kThreads) {
      const int t = e / kCh, c = c0 + e % kCh;
      wsh[e] = c < d.C_in ? w[(o * d.C_in + c) * taps + t] : 0.f;
    }
    __syncthreads();
    for (int kh = 0; kh < d.KH; ++kh) {
      // q = ih + ph - kh dh - oh_lo sh >= 0: a tap hits when q is a multiple of sh, at patch row q / sh.
      int row_offset[kMaxRows];
      bool row_hit[kMaxRows];
#pragma unroll
      for (int r = 0; r < kMaxRows; ++r) {
        const int q = ih0 + ty + kTY * r + d.ph - kh * d.dh - oh_lo * d.sh;
        row_hit[r] = r < rows && q % d.sh == 0;
        row_offset[r] = q / d.sh * PW;
      }
      for (int kw = 0; kw < d.KW; ++kw) {
        const int q = iw0 + tx + d.pw - kw * d.dw - ow_lo * d.sw;
        if (q % d.sw != 0) continue;
        const int col = q / d.sw;
        float wv[kCh];
#pragma unroll
        for (int c = 0; c < kCh; ++c) wv[c] = wsh[(kh * d.KW + kw) * kCh + c];
#pragma unroll
        for (int r = 0; r < kMaxRows; ++r)
          if (row_hit[r]) {
            const float v = patch[row_offset[r] + col];
#pragma unroll
            for (int c = 0; c < kCh; ++c) acc[r][c] += v * wv[c];
          }
      }
    }
  }
  const int iw = iw0 + tx;
#pragma unroll
  for (int r = 0; r < kMaxRows; ++r) {
    const int ih = ih0 + ty + kTY * r;
    if (r >= rows || ih >= d.H || iw >= d.W) continue;
#pragma unroll
    for (int c = 0; c < kCh; ++c)
      if (c0 + c < d.C_in)
        gx[((n * d.C_in + c0 + c) * d.H + ih) * d.W + iw] = bias ? acc[r][c] + bias[c0 + c] : acc[r][c];
  }
}

// Backward weight, block (c + C_in * output-channel group, chunk): partials[chunk][gw index] for
// taps [g0, g0 + 9) of the work items [chunk * per_chunk, ...) (item = image * tiles + tile).
__global__ void __launch_bounds__(kThreads) backward_weight_kernel(Dims d, int rows, int tiles_w, int tiles,
                                                                   int per_chunk, int g0, const float* g,
                                                                   const float* x, float* partials) {
  __shared__ float patch[kPatch];
  __shared__ float warp_sums[kThreads / 32][kCh * kTapGroup];
  const int tx = int(threadIdx.x), ty = int(threadIdx.y), tid = ty * kTW + tx;
  const int c = int(blockIdx.x) % d.C_in, o0 = int(blockIdx.x) / d.C_in * kCh, taps = d.KH * d.KW;
  const int group = taps - g0 < kTapGroup ? taps - g0 : kTapGroup;
  const int PH = (kTY * rows - 1) * d.sh + (d.KH - 1) * d.dh + 1, PW = (kTW - 1) * d.sw + (d.KW - 1) * d.dw + 1;
  int tap_offset[kTapGroup];
#pragma unroll
  for (int t = 0; t < kTapGroup; ++t) {
    const int tap = g0 + (t < group ? t : 0);
    tap_offset[t] = tap / d.KW * d.dh * PW + tap % d.KW * d.dw;
  }
  float acc[kCh][kTapGroup] = {};
  const int items = d.N * tiles, first = int(blockIdx.y) * per_chunk;
  const int last = first + per_chunk < items ? first + per_chunk : items;
  for (int item = first; item < last; ++item) {
    const int n = item / tiles, tile = item % tiles;
    const int oh0 = tile / tiles_w * kTY * rows, ow0 = tile % tiles_w * kTW;
    const int ih0 = oh0 * d.sh - d.ph, iw0 = ow0 * d.sw - d.pw;
    const float* xc = x + (n * d.C_in + c) * d.H * d.W;
    __syncthreads();
    for (int e = tid; e < PH * PW; e += kThreads) {
      const int ih = ih0 + e / PW, iw = iw0 + e % PW;
      patch[e] = ih >= 0 && ih < d.H && iw >= 0 && iw < d.W ? xc[ih * d.W + iw] : 0.f;
    }
    __syncthreads();
    const int ow = ow0 + tx;
#pragma unroll
    for (int r = 0; r < kMaxRows; ++r) {
      const int oh = oh0 + ty + kTY * r;
      if (r >= rows || oh >= d.HO || ow >= d.WO) continue;
      float gv[kCh];
#pragma unroll
      for (int o = 0; o < kCh; ++o)
        gv[o] = o0 + o < d.C_out ? g[((n * d.C_out + o0 + o) * d.HO + oh) * d.WO + ow] : 0.f;
      const float* p = patch + (ty + kTY * r) * d.sh * PW + tx * d.sw;
#pragma unroll
      for (int t = 0; t < kTapGroup; ++t) {
        const float v = p[tap_offset[t]];
#pragma unroll
        for (int o = 0; o < kCh; ++o) acc[o][t] += gv[o] * v;
      }
    }
  }
  // The block's sum of each of the 72 accumulators: a shuffle tree in each warp, then the 8 warps'
  // sums in order. Fixed, so every run adds the same numbers in the same order.
  const int lane = tid % 32, warp = tid / 32;
#pragma unroll
  for (int o = 0; o < kCh; ++o)
#pragma unroll
    for (int t = 0; t < kTapGroup; ++t) {
      float v = acc[o][t];
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
      if (lane == 0) warp_sums[warp][o * kTapGroup + t] = v;
    }
  __syncthreads();
  if (tid < kCh * kTapGroup) {
    const int o = o0 + tid / kTapGroup, t = tid % kTapGroup;
    float sum = 0;
    for (int k = 0; k < kThreads / 32; ++k) sum += warp_sums[k][tid];
    if (o < d.C_out && t < group)
      partials[int64_t(blockIdx.y) * d.C_out * d.C_in * taps + (o * d.C_in + c) * taps + g0 + t] = sum;
  }
}

inline void forward(const Dims& d, const float* x, const float* w, const float* bias, float* out) {
  const Plan p = plan(ConvPass::Forward, d);
  if (!p.fits) return conv2d_v1::forward(d, x, w, bias, out);
  launch("conv2d_v2_direct_tiled forward", forward_kernel, dim3(unsigned(p.tiles), unsigned((d.C_out + kCh - 1) / kCh),
         unsigned(d.N)), dim3(kTW, kTY), d, p.rows, p.tiles_w, x, w, bias, out);
}

inline void backward_data(const Dims& d, const float* g, const float* w, const float* bias, float* gx) {
  const Plan p = plan(ConvPass::BackwardData, d);
  if (!p.fits) return conv2d_v1::backward_data(d, g, w, bias, gx);
  launch("conv2d_v2_direct_tiled backward data", backward_data_kernel,
         dim3(unsigned(p.tiles), unsigned((d.C_in + kCh - 1) / kCh), unsigned(d.N)), dim3(kTW, kTY), d, p.rows,
         p.tiles_w, g, w, bias, gx);
}

// The chunks of backward weight's work items: enough blocks for two waves of a 132-SM GPU, each a
// whole number of items; a function of the shape only (so the sums are the same on every device).
struct WeightSplit {
  int chunks, per_chunk;
};
inline WeightSplit weight_split(const Dims& d, const Plan& p) {
  const int64_t items = int64_t(d.N) * p.tiles, blocks = int64_t(d.C_in) * ((d.C_out + kCh - 1) / kCh);
  int64_t chunks = (264 + blocks - 1) / blocks;
  chunks = chunks < items ? chunks : items;
  chunks = chunks < 4096 ? chunks : 4096;
  const int64_t per_chunk = (items + chunks - 1) / chunks;
  return {int((items + per_chunk - 1) / per_chunk), int(per_chunk)};
}

inline void backward_weight(const Dims& d, const float* g, const float* x, float* gw) {
  const Plan p = plan(ConvPass::BackwardWeight, d);
  const int64_t groups = int64_t(d.C_in) * ((d.C_out + kCh - 1) / kCh);
  if (!p.fits || groups > INT32_MAX) return conv2d_v1::backward_weight(d, g, x, gw);
  const WeightSplit split = weight_split(d, p);
  const int taps = d.KH * d.KW, weights = d.C_out * d.C_in * taps;
  const Tensor partials = empty({int64_t(split.chunks) * weights}, {DType::Float32, Device::CUDA});
  for (int g0 = 0; g0 < taps; g0 += kTapGroup)
    launch("conv2d_v2_direct_tiled backward weight", backward_weight_kernel, dim3(unsigned(groups), unsigned(split.chunks)),
           dim3(kTW, kTY), d, p.rows, p.tiles_w, p.tiles, split.per_chunk, g0, g, x, partials.data<float>());
  conv2d_common::sum_chunks("conv2d_v2_direct_tiled backward weight (sum of the chunks)", weights,
                            {split.chunks, weights, false, 0, 0, nullptr}, partials.data<float>(), gw);
}

}  // namespace cxr::cuda::conv2d_v2
