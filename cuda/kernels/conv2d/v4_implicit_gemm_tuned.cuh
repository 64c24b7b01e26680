// v4_implicit_gemm_tuned.cuh — conv2d v4: an implicit GEMM tuned for the wide late layers of the
// seed ResNets (64..192 channels on 16^2..4^2 maps at batch 64), for all three passes:
//   forward         out (C_out x N*HO*WO)  = W (C_out x C_in*KH*KW) . im2col(x)
//   backward data   gx  (C_in  x N*H*W)    = W' (C_in x C_out*KH*KW) . G (the taps of g, 0 between strided outputs)
//   backward weight gw  (C_out x C_in*KH*KW) = g (C_out x N*HO*WO) . im2col(x)^T
// What it changes against v3 (the backend's 128 x 128 x 8 GEMM core with per-element 64-bit index
// arithmetic), and why:
//   - Tile 64 x 128 x 16 (rows = channels): 64, 128 and 192 channels fill whole tiles (v3's 128
//     rows are 75% used at 192 and 50% at 64).
//   - Deterministic split-K on every pass whenever the tiles alone would not fill the GPU: layer6's
//     forward is a 192 x 1024 x 1728 GEMM, 24 tiles for 132 SMs; split 11 ways it is 264 blocks.
//     Chunk z of K writes partials[z]; a second pass adds the chunks in order z = 0, 1, ... in
//     double (conv2d_common::sum_chunks). The split is a function of the shape only.
//   - 32-bit index arithmetic, and none per element: the (n, oh, ow) of a thread's column is
//     decomposed once per kernel, the (c, kh, kw) or (n, oh, ow) of the tile's 16 k values once per
//     K step by 16 threads into a small table in shared memory (double-buffered: the next step's
//     table is written while the block multiplies), so a load is an add, two compares and a load
//     (plus the divisibility test of backward data at stride > 1).
//   - Register blocking 8 x 4 per thread (rows ty*8.., columns tx*4..: 32 accumulators), read as
//     float4 from shared memory: 3 LDS.128 per 32 FMAs; a warp's per-k reads are 2 broadcasts and
//     4 wavefronts: 6 wavefronts per 32 warp-FMAs, shared memory at 75% of its bandwidth at the
//     FP32 rate (v3: 16 per 64, 100%).
//   flops 2 N HO WO C_out C_in KH KW per pass (each late layer ~1.2 GFLOP at batch 64: >= 18 us at
//   67 TFLOP/s FP32); global: (64 + 128) * 16 floats per 64 x 128 x 16 tile step, 21 flop/byte of
//   L2 traffic, plus the split's partials (chunks x the output, written and read once: 8.6 MB for
//   layer6's forward, ~5 us at 3.35 TB/s, the price of filling the GPU). Shared 12.8 KB.
//   No double-buffered global -> shared copies or tensor cores yet (SGEMM v4/v6 show those steps).
//   ptxas (nvcc 13.0, sm_90 / sm_80): 79-80 registers for each pass, no spills; 12.8 KB shared, 256
//   threads: 3 blocks (24 warps) per SM by registers.
//   measured: not yet run on a GPU.
#pragma once

#include <algorithm>

#include "cuda/kernels/conv2d/common.cuh"

namespace cxr::cuda::conv2d_v4 {

using conv2d_common::Dims;

constexpr int BM = 64, BN = 128, BK = 16, kThreads = 256, TM = 8, TN = 4, kPitchA = BM + 4;
static_assert((BM / TM) * (BN / TN) == kThreads, "one 8 x 4 block of outputs per thread");

// One k of the K step: what its loads need, computed once per block (see each pass).
struct KEntry {
  int a, b, c, e;
};

// ---- forward: A = w (o, k), B = im2col(x) (k, col = (n, oh, ow)); k = (ci, kh, kw) ----
struct Forward {
  Dims d;
  const float* w;
  const float* x;
  __host__ __device__ int M() const { return d.C_out; }
  __host__ __device__ int N() const { return d.N * d.HO * d.WO; }
  __host__ __device__ int K() const { return d.C_in * d.KH * d.KW; }
  __device__ KEntry entry(int k) const {
    const int taps = d.KH * d.KW, ci = k / taps, t = k - ci * taps, kh = t / d.KW, kw = t - kh * d.KW;
    return {k, (ci * d.H + kh * d.dh) * d.W + kw * d.dw, kh * d.dh, kw * d.dw};
  }
  __device__ float a(int row, const KEntry& e) const { return w[row * K() + e.a]; }
  struct Column {
    int base, h0, w0;  // x offset of (n, 0, ih0, iw0); ih0 = oh sh - ph, iw0 = ow sw - pw
  };
  __device__ Column column(int col) const {
    const int plane = d.HO * d.WO, n = col / plane, pix = col - n * plane, oh = pix / d.WO, ow = pix - oh * d.WO;
    const int h0 = oh * d.sh - d.ph, w0 = ow * d.sw - d.pw;
    return {n * d.C_in * d.H * d.W + h0 * d.W + w0, h0, w0};
  }
  __device__ float b(const Column& c, const KEntry& e) const {
    const int ih = c.h0 + e.c, iw = c.w0 + e.e;
    return unsigned(ih) < unsigned(d.H) && unsigned(iw) < unsigned(d.W) ? x[c.base + e.b] : 0.f;
  }
};

// ---- backward data: A = w' (ci, k), B = G (k, col = (n, ih, iw)); k = (o, kh, kw) ----
struct BackwardData {
  Dims d;
  const float* w;
  const float* g;
  __host__ __device__ int M() const { return d.C_in; }
  __host__ __device__ int N() const { return d.N * d.H * d.W; }
  __host__ __device__ int K() const { return d.C_out * d.KH * d.KW; }
  __device__ KEntry entry(int k) const {
    const int taps = d.KH * d.KW, o = k / taps, t = k - o * taps, kh = t / d.KW, kw = t - kh * d.KW;
    return {o * d.C_in * taps + t, o * d.HO * d.WO, kh * d.dh, kw * d.dw};
  }
  __device__ float a(int row, const KEntry& e) const { return w[row * d.KH * d.KW + e.a]; }
  struct Column {
    int base, th, tw;  // g offset of image n; ih + ph, iw + pw
  };
  __device__ Column column(int col) const {
    const int plane = d.H * d.W, n = col / plane, pix = col - n * plane, ih = pix / d.W, iw = pix - ih * d.W;
    return {n * d.C_out * d.HO * d.WO, ih + d.ph, iw + d.pw};
  }
  __device__ float b(const Column& c, const KEntry& e) const {
    const int th = c.th - e.c, tw = c.tw - e.e;  // = oh sh, ow sw for a tap that hits
    if (th < 0 || tw < 0 || th % d.sh != 0 || tw % d.sw != 0) return 0.f;
    const int oh = th / d.sh, ow = tw / d.sw;
    return oh < d.HO && ow < d.WO ? g[c.base + e.b + oh * d.WO + ow] : 0.f;
  }
};

// ---- backward weight: A = g (o, k), B = im2col(x)^T (k, col = (ci, kh, kw)); k = (n, oh, ow) ----
struct BackwardWeight {
  Dims d;
  const float* g;
  const float* x;
  __host__ __device__ int M() const { return d.C_out; }
  __host__ __device__ int N() const { return d.C_in * d.KH * d.KW; }
  __host__ __device__ int K() const { return d.N * d.HO * d.WO; }
  __device__ KEntry entry(int k) const {
    const int plane = d.HO * d.WO, n = k / plane, pix = k - n * plane, oh = pix / d.WO, ow = pix - oh * d.WO;
    return {n * d.C_out * plane + pix, n * d.C_in * d.H * d.W, oh * d.sh, ow * d.sw};
  }
  __device__ float a(int row, const KEntry& e) const { return g[row * d.HO * d.WO + e.a]; }
  struct Column {
    int base, h, w;  // x offset of channel ci; kh dh - ph, kw dw - pw
  };
  __device__ Column column(int col) const {
    const int taps = d.KH * d.KW, ci = col / taps, t = col - ci * taps, kh = t / d.KW, kw = t - kh * d.KW;
    return {ci * d.H * d.W, kh * d.dh - d.ph, kw * d.dw - d.pw};
  }
  __device__ float b(const Column& c, const KEntry& e) const {
    const int ih = e.c + c.h, iw = e.e + c.w;
    return unsigned(ih) < unsigned(d.H) && unsigned(iw) < unsigned(d.W) ? x[e.b + c.base + ih * d.W + iw] : 0.f;
  }
};

// Where the GEMM's (row, col) goes: chunks == 1 writes the result (+ bias), NCHW when `plane` > 0
// (row = channel, col = n * plane + pixel), else row-major; more chunks write partials[z][row][col].
struct Output {
  float* out;
  const float* bias;  // per row, or null
  int plane;          // 0: row-major M x N
  int chunk;          // K per chunk (a multiple of BK)
  int chunks;
};

template <typename Pass>
__global__ void __launch_bounds__(kThreads) gemm_kernel(Pass pass, Output o) {
  alignas(16) __shared__ float As[BK][kPitchA];  // As[k][row]
  alignas(16) __shared__ float Bs[BK][BN];       // Bs[k][col]
  __shared__ KEntry table[2][BK];
  const int M = pass.M(), N = pass.N(), K = pass.K();
  const int tid = int(threadIdx.x), ty = tid / 32, tx = tid % 32;
  const int row0 = int(blockIdx.y) * BM, col0 = int(blockIdx.x) * BN;
  const int k_begin = int(blockIdx.z) * o.chunk, k_end = K < k_begin + o.chunk ? K : k_begin + o.chunk;
  // This thread's column of B's tile (the same in every K step) and its 4 rows of A's.
  const int b_col = col0 + tid % BN, b_k = tid / BN;
  const bool b_in = b_col < N;
  const typename Pass::Column column = pass.column(b_in ? b_col : 0);

  if (tid < BK && k_begin + tid < k_end) table[0][tid] = pass.entry(k_begin + tid);
  __syncthreads();
  float acc[TM][TN] = {};
  int buffer = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += BK, buffer ^= 1) {
#pragma unroll
    for (int i = 0; i < BM * BK / kThreads; ++i) {
      const int e = tid + i * kThreads, r = e / BK, kk = e % BK;
      As[kk][r] = row0 + r < M && k0 + kk < k_end ? pass.a(row0 + r, table[buffer][kk]) : 0.f;
    }
#pragma unroll
    for (int i = 0; i < BK * BN / kThreads; ++i) {
      const int kk = b_k + i * (kThreads / BN);
      Bs[kk][tid % BN] = b_in && k0 + kk < k_end ? pass.b(column, table[buffer][kk]) : 0.f;
    }
    __syncthreads();
    // The next step's k table, written while the block multiplies (read after the next barrier).
    if (tid < BK && k0 + BK + tid < k_end) table[buffer ^ 1][tid] = pass.entry(k0 + BK + tid);
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      const float4 a_lo = *reinterpret_cast<const float4*>(&As[kk][ty * TM]);
      const float4 a_hi = *reinterpret_cast<const float4*>(&As[kk][ty * TM + 4]);
      const float4 b4 = *reinterpret_cast<const float4*>(&Bs[kk][tx * TN]);
      const float a[TM] = {a_lo.x, a_lo.y, a_lo.z, a_lo.w, a_hi.x, a_hi.y, a_hi.z, a_hi.w};
      const float b[TN] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int row = row0 + ty * TM + i;
    if (row >= M) continue;
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int col = col0 + tx * TN + j;
      if (col >= N) continue;
      if (o.chunks > 1) {
        o.out[(int64_t(blockIdx.z) * M + row) * N + col] = acc[i][j];
      } else if (o.plane > 0) {
        const int n = col / o.plane;
        o.out[(n * M + row) * o.plane + col - n * o.plane] = o.bias ? acc[i][j] + o.bias[row] : acc[i][j];
      } else {
        o.out[row * N + col] = acc[i][j];
      }
    }
  }
}

// The split of K: enough blocks for two waves of a 132-SM GPU when the tiles alone are fewer, each
// chunk at least 8 K steps, at most 64 chunks and 2^26 floats of partials; the shape alone decides.
struct Split {
  int chunks, chunk;
};
inline Split split_k(int64_t M, int64_t N, int64_t K) {
  const int64_t tiles = ((M + BM - 1) / BM) * ((N + BN - 1) / BN), steps = (K + BK - 1) / BK;
  int64_t chunks = (264 + tiles - 1) / tiles;
  chunks = std::min<int64_t>({chunks, std::max<int64_t>(1, steps / 8), 64, std::max<int64_t>(1, (int64_t(1) << 26) / (M * N))});
  const int64_t chunk = std::max<int64_t>(1, (steps + chunks - 1) / chunks) * BK;
  return {int((K + chunk - 1) / chunk), int(chunk)};
}

// Runs the GEMM of `pass` into `out` (NCHW with `plane` pixels per channel, + bias; or row-major).
template <typename Pass>
void run(const char* name, const Pass& pass, float* out, const float* bias, int plane) {
  const int64_t M = pass.M(), N = pass.N(), K = pass.K();
  const int64_t row_tiles = (M + BM - 1) / BM, col_tiles = (N + BN - 1) / BN;
  CXR_CHECK(row_tiles <= 65535, name, ": ", M, " channels is more than the grid's 65535 tiles of ", BM);
  CXR_CHECK(K > 0, name, ": an empty reduction");
  const Split s = split_k(M, N, K);
  Tensor partials;
  Output o{out, bias, plane, s.chunk, s.chunks};
  if (s.chunks > 1) {
    partials = empty({s.chunks * M * N}, {DType::Float32, Device::CUDA});
    o.out = partials.data<float>();
  }
  launch(name, gemm_kernel<Pass>, dim3(unsigned(col_tiles), unsigned(row_tiles), unsigned(s.chunks)), dim3(kThreads),
         pass, o);
  if (s.chunks > 1)
    conv2d_common::sum_chunks(name, int(M * N), {s.chunks, int(M * N), plane > 0, int(M), plane, bias},
                              partials.data<float>(), out);
}

}  // namespace cxr::cuda::conv2d_v4
