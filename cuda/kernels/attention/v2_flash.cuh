// v2_flash.cuh — attention v2: fused and tiled, flash-attention style; nothing of size S x S is ever stored. Head
// dimension D <= 64 (zero-padded to 64). Every row a block owns (a query, or a key in dK/dV) belongs to a pair of
// lanes, each holding half of it in registers (interleaved float4 chunks); a dot product is the two halves' sums
// added with one __shfl_xor_sync, the same sum on both lanes.
//   forward (a block of 128 threads per 64 queries of one head): q and the output row in registers; K/V tiles of 32
//     keys streamed through shared memory; an online softmax keeps the running max m and sum l, rescaling the output
//     by exp(m_old - m_new) once per tile; at the end O = acc / l and lse = m + log l are stored.
//   backward, three kernels and no float atomics (deterministic by construction: every sum has one owner and a fixed
//   order):
//     delta: D_i = rowsum(dO_i * O_i), a warp per row;
//     dK/dV: a block per 64 keys, each key's k_j, v_j, dK_j, dV_j in registers; Q/dO tiles of 32 rows in order,
//       recomputing P_ij = exp(scale q_i . k_j + mask_j - lse_i); dV_j += P_ij dO_i; dS_ij = P_ij (dO_i . v_j - D_i);
//       dK_j += scale dS_ij q_i;
//     dQ: a block per 64 queries, each query's q_i, dO_i, dQ_i in registers; K/V tiles of 32 keys in order,
//       recomputing P_ij and dS_ij the same way; dQ_i += scale dS_ij k_j.
//   flops per (b, h): forward 4 S^2 D; backward 14 S^2 D (dK/dV: q.k, dO.v, P dO, dS q; dQ: q.k, dO.v, dS k): 18 S^2 D
//     in all against v1's 12, since P is recomputed twice instead of stored; 3 S^2 exponentials.
//   bytes per (b, h): no S^2 term. Each block reads its own rows once and the whole K/V (or Q/dO) of its head once:
//     2 S D floats per 64 rows, ~(3 S / 64) 2 S D floats in all, from L2 (a head's K and V are 256 KB at S 512).
//   The floor at B 32, H 4, S 512, D 64 on an H100: 38.7 GFLOP = 0.58 ms at 67 TFLOP/s FP32, against v1's 0.44 ms
//     (the larger of its 0.38 ms of flops and 0.44 ms of S^2 bytes). On the FP32 units the recomputation costs more
//     than the S^2 traffic it saves at D = 64, so the target of fused >= 2x unfused needs the tensor cores
//     (docs/KERNELS.md); v2 is the memory-lean, deterministic structure a tensor-core version keeps.
//   Shared memory per FMA: a tile row is a broadcast (one wavefront per float4 read of the warp, the pair's two
//     chunks in different banks). Forward, per key: 16 wavefronts for 64 warp-FMAs, exactly the SM's shared bandwidth
//     at the FP32 rate (4 warp-FMAs and 1 wavefront per clock), so it cannot exceed ~100% and will sit below it;
//     dK/dV per query: 16 to 32 wavefronts (as the compiler keeps q_i, dO_i for the second use) for 128 warp-FMAs;
//     dQ per key: 16 to 24 for 96. Two rows per lane pair (register blocking) would halve the forward's ratio.
//   ptxas (nvcc 13.0, sm_90): forward 143 registers, dK/dV 221, dQ 165, delta 32; no spills; 16.5 KB static shared
//     memory each.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/common.cuh"
#include "cuda/kernels/attention/attention.h"

namespace cxr::cuda::attention_v2 {

constexpr int kD = 64;         // the head dimension held (D <= kD, the rest zeros)
constexpr int kHalf = kD / 2;  // the elements of a row each lane of a pair holds
constexpr int kRows = 64;      // forward and dQ: queries per block, a lane pair each
constexpr int kKeyRows = 64;   // dK/dV: keys per block, a lane pair each
constexpr int kThreads = 2 * kRows;
constexpr int kTile = 32;  // rows of the streamed tiles (K/V, or Q/dO)
constexpr int kDeltaRowsPerBlock = 4;

// Lane half h of a pair holds the float4 chunks 2c + h of a row (c = 0..7): element e of its registers is
// d = 8 (e / 4) + 4 h + e % 4. Interleaving the chunks puts the pair's two reads of a broadcast tile row 16 bytes
// apart, in different banks: one shared wavefront for the warp.
__device__ inline int dim_of(int e, int half) { return 8 * (e / 4) + 4 * half + e % 4; }

// The (S, D) matrix of head (b, h).
template <typename T>
__device__ inline T* head(const HeadsRef<T>& r, int64_t b, int64_t h) {
  return r.data + b * r.batch_stride + h * r.head_stride;
}

// Rows [row0, row0 + kTile) of one head's (S, D) matrix into tile[kTile][kD], zeros past S and D; the block's threads
// walk the elements in order, so consecutive threads read consecutive d.
__device__ inline void load_tile(float (*tile)[kD], const float* base, int64_t row_stride, int row0, int S, int D) {
  for (int e = int(threadIdx.x); e < kTile * kD; e += int(blockDim.x)) {
    const int r = e / kD, d = e % kD, row = row0 + r;
    tile[r][d] = row < S && d < D ? base[int64_t(row) * row_stride + d] : 0.0f;
  }
}

// This lane's half of row `row` (zeros past S and D) into registers.
__device__ inline void load_half(float (&x)[kHalf], const float* row_data, bool inside, int D, int half) {
#pragma unroll
  for (int e = 0; e < kHalf; ++e) {
    const int d = dim_of(e, half);
    x[e] = inside && d < D ? row_data[d] : 0.0f;
  }
}
__device__ inline void store_half(float* row_data, const float (&x)[kHalf], float factor, int D, int half) {
#pragma unroll
  for (int e = 0; e < kHalf; ++e) {
    const int d = dim_of(e, half);
    if (d < D) row_data[d] = factor * x[e];
  }
}

__device__ inline const float4& chunk(const float* tile_row, int c, int half) {
  return *reinterpret_cast<const float4*>(tile_row + 8 * c + 4 * half);
}

// x . (a tile row), over the pair: each lane sums its half, then the two halves are added (the same two numbers on both
// lanes, so both get the same sum).
__device__ inline float pair_dot(const float (&x)[kHalf], const float* tile_row, int half) {
  float dot = 0;
#pragma unroll
  for (int c = 0; c < kHalf / 4; ++c) {
    const float4 y = chunk(tile_row, c, half);
    dot += x[4 * c] * y.x;
    dot += x[4 * c + 1] * y.y;
    dot += x[4 * c + 2] * y.z;
    dot += x[4 * c + 3] * y.w;
  }
  return dot + __shfl_xor_sync(0xffffffffu, dot, 1);
}

// acc += w (a tile row), this lane's half.
__device__ inline void axpy_half(float (&acc)[kHalf], float w, const float* tile_row, int half) {
#pragma unroll
  for (int c = 0; c < kHalf / 4; ++c) {
    const float4 y = chunk(tile_row, c, half);
    acc[4 * c] += w * y.x;
    acc[4 * c + 1] += w * y.y;
    acc[4 * c + 2] += w * y.z;
    acc[4 * c + 3] += w * y.w;
  }
}

// blockIdx.x: a tile of kRows queries; blockIdx.y: b * H + h.
__global__ void __launch_bounds__(kThreads) forward_kernel(AttentionArgs a) {
  alignas(16) __shared__ float ks[kTile][kD];
  alignas(16) __shared__ float vs[kTile][kD];
  __shared__ float mask_s[kTile];
  const int S = int(a.seq), D = int(a.head_dim), half = int(threadIdx.x % 2);
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads;
  const int i = int(blockIdx.x) * kRows + int(threadIdx.x / 2);
  const bool active = i < S;
  const float* k = head(a.k, b, h);
  const float* v = head(a.v, b, h);
  const float* mask = a.key_mask ? a.key_mask + b * a.seq : nullptr;
  const float inf = Limits<float>::infinity();

  float q[kHalf], acc[kHalf];
  load_half(q, head(a.q, b, h) + int64_t(active ? i : 0) * a.q.row_stride, active, D, half);
#pragma unroll
  for (int e = 0; e < kHalf; ++e) acc[e] = 0;
  float m = -inf, l = 0;
  for (int j0 = 0; j0 < S; j0 += kTile) {
    __syncthreads();  // the previous tile is used up
    load_tile(ks, k, a.k.row_stride, j0, S, D);
    load_tile(vs, v, a.v.row_stride, j0, S, D);
    if (threadIdx.x < kTile) {
      const int j = j0 + int(threadIdx.x);
      mask_s[threadIdx.x] = j < S ? (mask ? mask[j] : 0.0f) : -inf;  // keys past S weigh nothing
    }
    __syncthreads();
    float s[kTile];
    float tile_max = -inf;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      s[j] = pair_dot(q, ks[j], half) * a.scale + mask_s[j];
      tile_max = fmaxf(tile_max, s[j]);
    }
    const float m_new = fmaxf(m, tile_max);
    const float base = m_new == -inf ? 0.0f : m_new;  // every key so far masked with -inf: p = 0, no NaN
    const float correction = expf(m - base);
    l *= correction;
#pragma unroll
    for (int e = 0; e < kHalf; ++e) acc[e] *= correction;
#pragma unroll
    for (int j = 0; j < kTile; ++j) {
      const float p = expf(s[j] - base);
      l += p;
      axpy_half(acc, p, vs[j], half);
    }
    m = m_new;
  }
  if (!active) return;
  store_half(head(a.o, b, h) + int64_t(i) * a.o.row_stride, acc, 1.0f / l, D, half);
  if (half == 0) a.lse[(b * a.heads + h) * a.seq + i] = m + logf(l);
}

// delta[r] = sum_d dO[r][d] O[r][d] for row r = (b * H + h) * S + i: a warp per row.
__global__ void __launch_bounds__(32 * kDeltaRowsPerBlock) delta_kernel(AttentionArgs a, float* delta) {
  const int64_t r = int64_t(blockIdx.x) * kDeltaRowsPerBlock + threadIdx.x / 32;
  const int lane = int(threadIdx.x % 32);
  if (r >= a.batch * a.heads * a.seq) return;
  const int64_t i = r % a.seq, bh = r / a.seq, b = bh / a.heads, h = bh % a.heads;
  const float* d_o = head(a.d_o, b, h) + i * a.d_o.row_stride;
  const float* o = head(a.o, b, h) + i * a.o.row_stride;
  float sum = 0;
  for (int64_t d = lane; d < a.head_dim; d += 32) sum += d_o[d] * o[d];
  for (int m = 16; m > 0; m >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, m);
  if (lane == 0) delta[r] = sum;
}

// blockIdx.x: a tile of kKeyRows keys; blockIdx.y: b * H + h. A lane pair per key j holds k_j, v_j, dK_j and dV_j
// (halves) in registers and walks the queries in order.
__global__ void __launch_bounds__(kThreads) dkdv_kernel(AttentionArgs a, const float* delta) {
  alignas(16) __shared__ float qs[kTile][kD];
  alignas(16) __shared__ float dos[kTile][kD];
  __shared__ float lse_s[kTile], delta_s[kTile];
  const int S = int(a.seq), D = int(a.head_dim), t = int(threadIdx.x), half = t % 2;
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads, bh = int64_t(blockIdx.y);
  const int j = int(blockIdx.x) * kKeyRows + t / 2;
  const bool active = j < S;
  const float* q = head(a.q, b, h);
  const float* d_o = head(a.d_o, b, h);
  float k[kHalf], v[kHalf], dk[kHalf], dv[kHalf];
  load_half(k, head(a.k, b, h) + int64_t(active ? j : 0) * a.k.row_stride, active, D, half);
  load_half(v, head(a.v, b, h) + int64_t(active ? j : 0) * a.v.row_stride, active, D, half);
  const float mask_j = a.key_mask && active ? a.key_mask[b * a.seq + j] : 0.0f;
#pragma unroll
  for (int e = 0; e < kHalf; ++e) dk[e] = dv[e] = 0;
  for (int i0 = 0; i0 < S; i0 += kTile) {
    __syncthreads();  // the previous tile is used up
    load_tile(qs, q, a.q.row_stride, i0, S, D);
    load_tile(dos, d_o, a.d_o.row_stride, i0, S, D);
    if (t < kTile) {
      const int i = i0 + t;
      lse_s[t] = i < S ? a.lse[bh * a.seq + i] : 0.0f;
      delta_s[t] = i < S ? delta[bh * a.seq + i] : 0.0f;
    }
    __syncthreads();
    const int rows = S - i0 < kTile ? S - i0 : kTile;
    for (int r = 0; r < rows; ++r) {
      const float qk = pair_dot(k, qs[r], half);
      const float dov = pair_dot(v, dos[r], half);
      const float p = expf(qk * a.scale + mask_j - lse_s[r]);
      const float ds = p * (dov - delta_s[r]);
      axpy_half(dv, p, dos[r], half);
      axpy_half(dk, ds, qs[r], half);
    }
  }
  if (!active) return;
  store_half(head(a.d_k, b, h) + int64_t(j) * a.d_k.row_stride, dk, a.scale, D, half);
  store_half(head(a.d_v, b, h) + int64_t(j) * a.d_v.row_stride, dv, 1.0f, D, half);
}

// blockIdx.x: a tile of kRows queries; blockIdx.y: b * H + h. A lane pair per query i holds q_i, dO_i and dQ_i (halves)
// in registers and walks the keys in order.
__global__ void __launch_bounds__(kThreads) dq_kernel(AttentionArgs a, const float* delta) {
  alignas(16) __shared__ float ks[kTile][kD];
  alignas(16) __shared__ float vs[kTile][kD];
  __shared__ float mask_s[kTile];
  const int S = int(a.seq), D = int(a.head_dim), t = int(threadIdx.x), half = t % 2;
  const int64_t b = blockIdx.y / a.heads, h = blockIdx.y % a.heads, bh = int64_t(blockIdx.y);
  const int i = int(blockIdx.x) * kRows + t / 2;
  const bool active = i < S;
  const float* k = head(a.k, b, h);
  const float* v = head(a.v, b, h);
  float q[kHalf], d_o[kHalf], dq[kHalf];
  load_half(q, head(a.q, b, h) + int64_t(active ? i : 0) * a.q.row_stride, active, D, half);
  load_half(d_o, head(a.d_o, b, h) + int64_t(active ? i : 0) * a.d_o.row_stride, active, D, half);
  const float lse_i = active ? a.lse[bh * a.seq + i] : 0.0f;
  const float delta_i = active ? delta[bh * a.seq + i] : 0.0f;
#pragma unroll
  for (int e = 0; e < kHalf; ++e) dq[e] = 0;
  for (int j0 = 0; j0 < S; j0 += kTile) {
    __syncthreads();
    load_tile(ks, k, a.k.row_stride, j0, S, D);
    load_tile(vs, v, a.v.row_stride, j0, S, D);
    if (t < kTile) {
      const int j = j0 + t;
      mask_s[t] = j < S && a.key_mask ? a.key_mask[b * a.seq + j] : 0.0f;
    }
    __syncthreads();
    const int keys = S - j0 < kTile ? S - j0 : kTile;
    for (int c = 0; c < keys; ++c) {
      const float qk = pair_dot(q, ks[c], half);
      const float dov = pair_dot(d_o, vs[c], half);
      const float p = expf(qk * a.scale + mask_s[c] - lse_i);
      axpy_half(dq, p * (dov - delta_i), ks[c], half);
    }
  }
  if (!active) return;
  store_half(head(a.d_q, b, h) + int64_t(i) * a.d_q.row_stride, dq, a.scale, D, half);
}

inline dim3 grid_of(const AttentionArgs& a, int per_block) {
  return dim3(unsigned((a.seq + per_block - 1) / per_block), unsigned(a.batch * a.heads));
}

inline void check(const AttentionArgs& a) {
  CXR_CHECK(a.head_dim <= kD, "attention v2_flash: head dimension ", a.head_dim, " > ", kD,
            " is not supported (v1_unfused takes any)");
  CXR_CHECK(a.batch * a.heads <= 65535, "attention v2_flash: batch x heads = ", a.batch * a.heads,
            " > 65535 (the grid's y dimension)");
  CXR_CHECK(a.seq <= INT32_MAX / 2, "attention v2_flash: sequence ", a.seq, " too long");
}

inline void forward(const AttentionArgs& a) {
  check(a);
  launch("attention_v2_forward", forward_kernel, grid_of(a, kRows), dim3(kThreads), a);
}

inline void backward(const AttentionArgs& a) {
  check(a);
  float* delta = a.workspace;
  const int64_t rows = a.batch * a.heads * a.seq;
  launch("attention_v2_delta", delta_kernel, dim3(unsigned((rows + kDeltaRowsPerBlock - 1) / kDeltaRowsPerBlock)),
         dim3(32 * kDeltaRowsPerBlock), a, delta);
  launch("attention_v2_dkdv", dkdv_kernel, grid_of(a, kKeyRows), dim3(kThreads), a, static_cast<const float*>(delta));
  launch("attention_v2_dq", dq_kernel, grid_of(a, kRows), dim3(kThreads), a, static_cast<const float*>(delta));
}

}  // namespace cxr::cuda::attention_v2
