// v2_flash.cuh — attention v2: fused and tiled, flash-attention style; nothing
// of size S x S is ever stored. Head dimension D <= 64 (zero-padded to 64 in
// shared memory and registers).
//   forward (a block per 64 queries of one head, a thread per query): q and the
//   output row in
//     registers; K/V tiles of 32 keys streamed through shared memory; an online
//     softmax keeps the running max m and sum l, rescaling the output by
//     exp(m_old - m_new) once per tile; at the end O = acc / l and lse = m +
//     log l are stored.
//   backward, three kernels and no float atomics (deterministic by
//   construction):
//     delta: D_i = rowsum(dO_i * O_i), a warp per row;
//     dK/dV: a block per 64 keys, a thread per key owning dK_j, dV_j in
//     registers; it loops over Q
//       tiles of 16 rows in order, recomputing P_ij = exp(scale q_i k_j +
//       mask_j - lse_i), dV_j += P_ij dO_i, dS_ij = P_ij (dO_i . v_j - D_i),
//       dK_j += scale dS_ij q_i;
//     dQ: a block per 64 queries, a thread per query owning dQ_i; it loops over
//     K/V tiles of 16
//       keys, recomputing P_ij and dS_ij the same way, dQ_i += scale dS_ij k_j.
//   flops per (b, h): forward 4 S^2 D; backward 14 S^2 D (dK/dV: q.k, dO.v, P
//   dO, dS q; dQ: q.k,
//     dO.v, dS k), 18 S^2 D in all against v1's 12: P is recomputed twice
//     instead of stored.
//   bytes per (b, h): no S^2 term. Each block reads its own rows once and every
//   K/V (or Q/dO) tile
//     of its head once: S^2 D / 64 * 2 floats forward, (S/64 + S/64) * S D * 2
//     floats backward, through L2 (all of a head's K/V is 128 KB at S 512, so
//     it stays in L2).
//   The floor at B 32, H 4, S 512, D 64 on an H100: 38.7 GFLOP = 0.58 ms at 67
//   TFLOP/s FP32,
//     against v1's max(0.38 ms flops, 0.44 ms S^2 bytes) = 0.44 ms: on FP32
//     units the fused form's extra recomputation costs more than the S^2
//     traffic it saves at D = 64, so the ratio target (fused >= 2x unfused)
//     needs the tensor cores (docs/KERNELS.md); v2 is the correct, memory-lean
//     structure they would build on.
//   Shared memory per FMA: the forward's K and V values are broadcast (one
//   float4 for 4 FMAs of
//     every lane): 32 wavefronts per 128 warp-FMAs, the SM's shared bandwidth
//     exactly at the FP32 rate. The backward kernels read their own rows from
//     shared memory (a padded pitch of 68 floats, so a warp's float4 reads are
//     conflict-free: 4 wavefronts each), about 3x the wavefronts per FMA the
//     FP32 rate allows: they are bound by shared memory.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/common.cuh"
#include "cuda/kernels/attention/attention.h"

namespace cxr::cuda::attention_v2 {

constexpr int kD = 64; // the head dimension held (D <= kD, the rest zeros)
constexpr int kPitch =
    kD + 4; // rows a thread reads alone: float4 reads spread over the banks
constexpr int kRows = 64;    // forward and dQ: queries per block, a thread each
constexpr int kKeys = 32;    // forward: keys per K/V tile
constexpr int kDqKeys = 16;  // dQ: keys per K/V tile
constexpr int kKeyRows = 64; // dK/dV: keys per block, a thread each
constexpr int kQueryTile = 16; // dK/dV: queries per Q/dO tile
constexpr int kDeltaRowsPerBlock = 4;

// The (S, D) matrix of head (b, h).
template <typename T>
__device__ inline T *head(const HeadsRef<T> &r, int64_t b, int64_t h) {
  return r.data + b * r.batch_stride + h * r.head_stride;
}

// Rows [row0, row0 + R) of one head's (S, D) matrix into tile[R][P], zeros past
// S and D; the block's threads walk the elements in order, so consecutive
// threads read consecutive d.
template <int R, int P>
__device__ inline void load_rows(float (*tile)[P], const float *base,
                                 int64_t row_stride, int row0, int S, int D) {
  for (int e = int(threadIdx.x); e < R * kD; e += int(blockDim.x)) {
    const int r = e / kD, d = e % kD, row = row0 + r;
    tile[r][d] = row < S && d < D ? base[int64_t(row) * row_stride + d] : 0.0f;
  }
}

__device__ inline float dot4(const float4 &a, const float4 &b, float acc) {
  acc += a.x * b.x;
  acc += a.y * b.y;
  acc += a.z * b.z;
  acc += a.w * b.w;
  return acc;
}
__device__ inline const float4 &at4(const float *p, int d) {
  return *reinterpret_cast<const float4 *>(p + d);
}

// blockIdx.x: a tile of kRows queries; blockIdx.y: b * H + h.
__global__ void __launch_bounds__(kRows) forward_kernel(AttentionArgs a) {
  alignas(16) __shared__ float ks[kKeys][kD];
  alignas(16) __shared__ float vs[kKeys][kD];
  __shared__ float mask_s[kKeys];
  const int S = int(a.seq), D = int(a.head_dim);
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads;
  const int i = int(blockIdx.x) * kRows + int(threadIdx.x);
  const bool active = i < S;
  const float *q = head(a.q, b, h) + int64_t(i) * a.q.row_stride;
  const float *k = head(a.k, b, h);
  const float *v = head(a.v, b, h);
  const float *mask = a.key_mask ? a.key_mask + b * a.seq : nullptr;
  const float inf = Limits<float>::infinity();

  float qr[kD], acc[kD];
#pragma unroll
  for (int d = 0; d < kD; ++d) {
    qr[d] = active && d < D ? q[d] : 0.0f;
    acc[d] = 0;
  }
  float m = -inf, l = 0;
  for (int j0 = 0; j0 < S; j0 += kKeys) {
    __syncthreads(); // the previous tile is used up
    load_rows<kKeys, kD>(ks, k, a.k.row_stride, j0, S, D);
    load_rows<kKeys, kD>(vs, v, a.v.row_stride, j0, S, D);
    if (threadIdx.x < kKeys) {
      const int j = j0 + int(threadIdx.x);
      mask_s[threadIdx.x] =
          j < S ? (mask ? mask[j] : 0.0f) : -inf; // keys past S weigh nothing
    }
    __syncthreads();
    float s[kKeys];
    float tile_max = -inf;
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
      float dot = 0;
#pragma unroll
      for (int d = 0; d < kD; d += 4)
        dot = dot4(make_float4(qr[d], qr[d + 1], qr[d + 2], qr[d + 3]),
                   at4(ks[j], d), dot);
      s[j] = dot * a.scale + mask_s[j];
      tile_max = fmaxf(tile_max, s[j]);
    }
    const float m_new = fmaxf(m, tile_max);
    const float base =
        m_new == -inf
            ? 0.0f
            : m_new; // every key so far masked with -inf: p = 0, no NaN
    const float correction = expf(m - base);
    l *= correction;
#pragma unroll
    for (int d = 0; d < kD; ++d)
      acc[d] *= correction;
#pragma unroll
    for (int j = 0; j < kKeys; ++j) {
      const float p = expf(s[j] - base);
      l += p;
#pragma unroll
      for (int d = 0; d < kD; d += 4) {
        const float4 vv = at4(vs[j], d);
        acc[d] += p * vv.x;
        acc[d + 1] += p * vv.y;
        acc[d + 2] += p * vv.z;
        acc[d + 3] += p * vv.w;
      }
    }
    m = m_new;
  }
  if (!active)
    return;
  float *o = head(a.o, b, h) + int64_t(i) * a.o.row_stride;
  const float inv = 1.0f / l;
#pragma unroll
  for (int d = 0; d < kD; ++d)
    if (d < D)
      o[d] = acc[d] * inv;
  a.lse[(b * a.heads + h) * a.seq + i] = m + logf(l);
}

// delta[r] = sum_d dO[r][d] O[r][d] for row r = (b * H + h) * S + i: a warp per
// row.
__global__ void __launch_bounds__(32 * kDeltaRowsPerBlock)
    delta_kernel(AttentionArgs a, float *delta) {
  const int64_t r = int64_t(blockIdx.x) * kDeltaRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= a.batch * a.heads * a.seq)
    return;
  const int64_t i = r % a.seq, bh = r / a.seq, b = bh / a.heads,
                h = bh % a.heads;
  const float *d_o = head(a.d_o, b, h) + i * a.d_o.row_stride;
  const float *o = head(a.o, b, h) + i * a.o.row_stride;
  float sum = 0;
  for (int64_t d = lane; d < a.head_dim; d += 32)
    sum += d_o[d] * o[d];
  for (int m = 16; m > 0; m >>= 1)
    sum += __shfl_xor_sync(0xffffffffu, sum, m);
  if (lane == 0)
    delta[r] = sum;
}

// blockIdx.x: a tile of kKeyRows keys; blockIdx.y: b * H + h.
__global__ void __launch_bounds__(kKeyRows)
    dkdv_kernel(AttentionArgs a, const float *delta) {
  alignas(16) __shared__ float k_own[kKeyRows][kPitch];
  alignas(16) __shared__ float v_own[kKeyRows][kPitch];
  alignas(16) __shared__ float qs[kQueryTile][kD];
  alignas(16) __shared__ float dos[kQueryTile][kD];
  __shared__ float lse_s[kQueryTile], delta_s[kQueryTile];
  const int S = int(a.seq), D = int(a.head_dim), t = int(threadIdx.x);
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads,
                bh = int64_t(blockIdx.y);
  const int j0 = int(blockIdx.x) * kKeyRows, j = j0 + t;
  const float *q = head(a.q, b, h);
  const float *d_o = head(a.d_o, b, h);
  load_rows<kKeyRows, kPitch>(k_own, head(a.k, b, h), a.k.row_stride, j0, S, D);
  load_rows<kKeyRows, kPitch>(v_own, head(a.v, b, h), a.v.row_stride, j0, S, D);
  const float mask_j = a.key_mask && j < S ? a.key_mask[b * a.seq + j] : 0.0f;

  float dk[kD], dv[kD];
#pragma unroll
  for (int d = 0; d < kD; ++d)
    dk[d] = dv[d] = 0;
  for (int i0 = 0; i0 < S; i0 += kQueryTile) {
    __syncthreads(); // the own rows are loaded; the previous tile is used up
    load_rows<kQueryTile, kD>(qs, q, a.q.row_stride, i0, S, D);
    load_rows<kQueryTile, kD>(dos, d_o, a.d_o.row_stride, i0, S, D);
    if (t < kQueryTile) {
      const int i = i0 + t;
      lse_s[t] = i < S ? a.lse[bh * a.seq + i] : 0.0f;
      delta_s[t] = i < S ? delta[bh * a.seq + i] : 0.0f;
    }
    __syncthreads();
    const int rows = S - i0 < kQueryTile ? S - i0 : kQueryTile;
    for (int r = 0; r < rows; ++r) {
      float qk = 0, dov = 0;
#pragma unroll
      for (int d = 0; d < kD; d += 4) {
        qk = dot4(at4(qs[r], d), at4(k_own[t], d), qk);
        dov = dot4(at4(dos[r], d), at4(v_own[t], d), dov);
      }
      const float p = expf(qk * a.scale + mask_j - lse_s[r]);
      const float ds = p * (dov - delta_s[r]);
#pragma unroll
      for (int d = 0; d < kD; ++d) {
        dv[d] += p * dos[r][d];
        dk[d] += ds * qs[r][d];
      }
    }
  }
  if (j >= S)
    return;
  float *d_k = head(a.d_k, b, h) + int64_t(j) * a.d_k.row_stride;
  float *d_v = head(a.d_v, b, h) + int64_t(j) * a.d_v.row_stride;
#pragma unroll
  for (int d = 0; d < kD; ++d)
    if (d < D) {
      d_k[d] = a.scale * dk[d];
      d_v[d] = dv[d];
    }
}

// blockIdx.x: a tile of kRows queries; blockIdx.y: b * H + h.
__global__ void __launch_bounds__(kRows)
    dq_kernel(AttentionArgs a, const float *delta) {
  alignas(16) __shared__ float q_own[kRows][kPitch];
  alignas(16) __shared__ float do_own[kRows][kPitch];
  alignas(16) __shared__ float ks[kDqKeys][kD];
  alignas(16) __shared__ float vs[kDqKeys][kD];
  __shared__ float mask_s[kDqKeys];
  const int S = int(a.seq), D = int(a.head_dim), t = int(threadIdx.x);
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads,
                bh = int64_t(blockIdx.y);
  const int i0 = int(blockIdx.x) * kRows, i = i0 + t;
  const float *k = head(a.k, b, h);
  const float *v = head(a.v, b, h);
  load_rows<kRows, kPitch>(q_own, head(a.q, b, h), a.q.row_stride, i0, S, D);
  load_rows<kRows, kPitch>(do_own, head(a.d_o, b, h), a.d_o.row_stride, i0, S,
                           D);
  const float lse_i = i < S ? a.lse[bh * a.seq + i] : 0.0f;
  const float delta_i = i < S ? delta[bh * a.seq + i] : 0.0f;

  float dq[kD];
#pragma unroll
  for (int d = 0; d < kD; ++d)
    dq[d] = 0;
  for (int j0 = 0; j0 < S; j0 += kDqKeys) {
    __syncthreads();
    load_rows<kDqKeys, kD>(ks, k, a.k.row_stride, j0, S, D);
    load_rows<kDqKeys, kD>(vs, v, a.v.row_stride, j0, S, D);
    if (t < kDqKeys) {
      const int jj = j0 + t;
      mask_s[t] = jj < S && a.key_mask ? a.key_mask[b * a.seq + jj] : 0.0f;
    }
    __syncthreads();
    const int keys = S - j0 < kDqKeys ? S - j0 : kDqKeys;
    for (int c = 0; c < keys; ++c) {
      float qk = 0, dov = 0;
#pragma unroll
      for (int d = 0; d < kD; d += 4) {
        qk = dot4(at4(q_own[t], d), at4(ks[c], d), qk);
        dov = dot4(at4(do_own[t], d), at4(vs[c], d), dov);
      }
      const float p = expf(qk * a.scale + mask_s[c] - lse_i);
      const float ds = p * (dov - delta_i);
#pragma unroll
      for (int d = 0; d < kD; ++d)
        dq[d] += ds * ks[c][d];
    }
  }
  if (i >= S)
    return;
  float *d_q = head(a.d_q, b, h) + int64_t(i) * a.d_q.row_stride;
#pragma unroll
  for (int d = 0; d < kD; ++d)
    if (d < D)
      d_q[d] = a.scale * dq[d];
}

inline dim3 grid_of(const AttentionArgs &a, int per_block) {
  return dim3(unsigned((a.seq + per_block - 1) / per_block),
              unsigned(a.batch * a.heads));
}

inline void check(const AttentionArgs &a) {
  CXR_CHECK(a.head_dim <= kD, "attention v2_flash: head dimension ", a.head_dim,
            " > ", kD, " is not supported (v1_unfused takes any)");
  CXR_CHECK(a.batch * a.heads <= 65535,
            "attention v2_flash: batch x heads = ", a.batch * a.heads,
            " > 65535 (the grid's y dimension)");
  CXR_CHECK(a.seq <= INT32_MAX / 2, "attention v2_flash: sequence ", a.seq,
            " too long");
}

inline void forward(const AttentionArgs &a) {
  check(a);
  launch("attention_v2_forward", forward_kernel, grid_of(a, kRows), dim3(kRows),
         a);
}

inline void backward(const AttentionArgs &a) {
  check(a);
  float *delta = a.workspace;
  const int64_t rows = a.batch * a.heads * a.seq;
  launch("attention_v2_delta", delta_kernel,
         dim3(unsigned((rows + kDeltaRowsPerBlock - 1) / kDeltaRowsPerBlock)),
         dim3(32 * kDeltaRowsPerBlock), a, delta);
  launch("attention_v2_dkdv", dkdv_kernel, grid_of(a, kKeyRows), dim3(kKeyRows),
         a, static_cast<const float *>(delta));
  launch("attention_v2_dq", dq_kernel, grid_of(a, kRows), dim3(kRows), a,
         static_cast<const float *>(delta));
}

} // namespace cxr::cuda::attention_v2
