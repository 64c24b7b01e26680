// tiles.cuh — what the SGEMM versions share: the grid over (N tiles, M tiles, batch) split into
// launches that fit the grid's limits; for v4..v7 the global -> shared copy of an operand tile and
// the double-buffered main loop; the epilogue's store of four results of a row of C. The versions'
// own files hold what each one teaches.
//
// A tile is R x C elements of a shared array S[R][PITCH]; element (r, c) of the tile lies at
// base[r * sr + c * sc] in global memory. Each thread copies strips of 4 consecutive elements,
// along the tile's columns (c..c+3) or down its rows (r..r+3), whichever way the operand is
// contiguous, so a warp's loads are coalesced either way: one float4 per strip when every strip is
// contiguous, 16-byte aligned and wholly inside or outside the operand (a kernel instantiation of
// its own, so that the general path costs the fast one no registers), else four guarded scalar
// loads (any stride, any edge). Elements outside the operand read as zero, so a partial tile needs
// no special case in the main loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "cuda/common.cuh"
#include "cuda/kernels/sgemm/sgemm.h"

namespace cxr::cuda::sgemm_tiles {

// How the threads of a block copy one operand's tiles (decided on the host, the same for every tile).
struct TileAccess {
  bool along_rows = false;  // strips run down a column: the operand is contiguous along the tile's rows
  bool vector = false;      // every strip is contiguous, 16-byte aligned, and wholly inside or outside
};

// The access for an operand of rows x cols elements whose element (r, c) lies at
// data[r * sr + c * sc] (+ a batch offset, a multiple of batch_stride), in tiles whose origins are
// multiples of 4 along both dimensions.
inline TileAccess tile_access(const float* data, int64_t sr, int64_t sc, int64_t batch_stride, int64_t rows,
                              int64_t cols) {
  TileAccess t;
  t.along_rows = sr == 1 && sc != 1;
  const int64_t along = t.along_rows ? sr : sc, across = t.along_rows ? sc : sr;
  const int64_t extent = t.along_rows ? rows : cols;  // the strips' direction
  t.vector = along == 1 && across % 4 == 0 && batch_stride % 4 == 0 && extent % 4 == 0 &&
             reinterpret_cast<uintptr_t>(data) % 16 == 0;
  return t;
}

template <int R, int C, int THREADS>
struct TileLoader {
  static_assert(R % 4 == 0 && C % 4 == 0 && (R * C / 4) % THREADS == 0, "the block's threads cover the tile");
  static constexpr int kStrips = R * C / 4 / THREADS;  // per thread
  float4 v[kStrips];

  // Strips down the columns: up to 4 consecutive threads take consecutive strips of one column
  // (64 contiguous bytes of global memory), the next ones the next columns, so that a warp's
  // stores to shared memory spread over the banks even when a column holds 32 strips.
  static constexpr int kColumnRun = R / 4 < 4 ? R / 4 : 4;
  static_assert(R / 4 % kColumnRun == 0, "whole runs");

  // The first element (r, c) of strip s; consecutive threads take consecutive strips.
  __device__ static void strip_origin(int s, bool along_rows, int& r, int& c) {
    if (along_rows) {
      const int run = s / kColumnRun;
      c = run % C;
      r = (run / C * kColumnRun + s % kColumnRun) * 4;
    } else {
      r = s / (C / 4);
      c = s % (C / 4) * 4;
    }
  }

  // Global -> registers: the tile at `base`, of which rows_valid x cols_valid lie inside the operand.
  // kVector (t.vector on the host): each strip is one float4 or zeros; else four guarded loads.
  template <bool kVector>
  __device__ void fetch(const float* base, int64_t sr, int64_t sc, int rows_valid, int cols_valid, TileAccess t) {
#pragma unroll
    for (int j = 0; j < kStrips; ++j) {
      int r, c;
      strip_origin(int(threadIdx.x) + j * THREADS, t.along_rows, r, c);
      const int inside = t.along_rows ? (c < cols_valid ? rows_valid - r : 0) : (r < rows_valid ? cols_valid - c : 0);
      const int64_t offset = r * sr + c * sc;
      if constexpr (kVector) {
        v[j] = inside > 0 ? *reinterpret_cast<const float4*>(base + offset) : make_float4(0.f, 0.f, 0.f, 0.f);
      } else {
        const int64_t step = t.along_rows ? sr : sc;
        v[j].x = inside > 0 ? base[offset] : 0.f;
        v[j].y = inside > 1 ? base[offset + step] : 0.f;
        v[j].z = inside > 2 ? base[offset + 2 * step] : 0.f;
        v[j].w = inside > 3 ? base[offset + 3 * step] : 0.f;
      }
    }
  }

  // Registers -> shared S[R][PITCH], each value through convert (float -> S: identity, TF32
  // rounding or BF16). Strips along the columns store 16 bytes (8 for BF16) at once.
  template <typename S, int PITCH, typename Convert>
  __device__ void store(S (*smem)[PITCH], bool along_rows, Convert convert) const {
    static_assert(PITCH >= C && PITCH % 4 == 0, "aligned rows");
#pragma unroll
    for (int j = 0; j < kStrips; ++j) {
      int r, c;
      strip_origin(int(threadIdx.x) + j * THREADS, along_rows, r, c);
      const S x = convert(v[j].x), y = convert(v[j].y), z = convert(v[j].z), w = convert(v[j].w);
      if (along_rows) {
        smem[r][c] = x, smem[r + 1][c] = y, smem[r + 2][c] = z, smem[r + 3][c] = w;
      } else if constexpr (std::is_same_v<S, float>) {
        *reinterpret_cast<float4*>(&smem[r][c]) = make_float4(x, y, z, w);
      } else {
        struct alignas(4 * sizeof(S)) Four {
          S e[4];
        };
        *reinterpret_cast<Four*>(&smem[r][c]) = Four{{x, y, z, w}};
      }
    }
  }
};

// Which way a block stores its tile of A in shared memory: As[k][m] (v4, v5: a thread reads a
// column of A as float4s along m) or As[m][k] (v6, v7: WMMA's row-major A). B is always Bs[k][n].
enum class SharedA { KM, MK };

// How a kernel's blocks copy A's and B's tiles (host side, per launch).
struct OperandAccess {
  TileAccess a, b;
  bool vector() const { return a.vector && b.vector; }  // the kernel instantiation with float4 copies
};
template <SharedA kA>
OperandAccess operand_access(const SgemmArgs& g) {
  const bool km = kA == SharedA::KM;  // tile (k, m): rows k at A's column stride
  return {km ? tile_access(g.A.data, g.A.col_stride, g.A.row_stride, g.A.batch_stride, g.K, g.M)
             : tile_access(g.A.data, g.A.row_stride, g.A.col_stride, g.A.batch_stride, g.M, g.K),
          tile_access(g.B.data, g.B.row_stride, g.B.col_stride, g.B.batch_stride, g.K, g.N)};
}

// One block's operands (v4..v7): its BM x BN tile of C at (m0, n0) of batch entry blockIdx.z, the
// loaders of A's and B's tiles of depth BK, and how many of the tile's rows and columns lie in C.
template <SharedA kA, int BM, int BN, int BK, int THREADS>
struct BlockTiles {
  static constexpr bool kKM = kA == SharedA::KM;
  TileLoader<kKM ? BK : BM, kKM ? BM : BK, THREADS> load_a;
  TileLoader<BK, BN, THREADS> load_b;
  const float* A;  // A's row m0(), B's column n0(), in the block's batch entry
  const float* B;
  int m_valid, n_valid;

  // (Recomputed from blockIdx where needed rather than held: two fewer 64-bit registers.)
  __device__ static int64_t m0() { return int64_t(blockIdx.y) * BM; }
  __device__ static int64_t n0() { return int64_t(blockIdx.x) * BN; }

  __device__ explicit BlockTiles(const SgemmArgs& g)
      : A(g.A.data + blockIdx.z * g.A.batch_stride + m0() * g.A.row_stride),
        B(g.B.data + blockIdx.z * g.B.batch_stride + n0() * g.B.col_stride),
        m_valid(int(g.M - m0() < BM ? g.M - m0() : BM)),
        n_valid(int(g.N - n0() < BN ? g.N - n0() : BN)) {}

  __device__ static int k_tiles(const SgemmArgs& g) { return int((g.K + BK - 1) / BK); }

  // Global -> registers: the tiles at k = tile * BK.
  template <bool kVector>
  __device__ void fetch(const SgemmArgs& g, int tile, OperandAccess access) {
    const int64_t k0 = int64_t(tile) * BK;
    const int k_valid = int(g.K - k0 < BK ? g.K - k0 : BK);
    const float* a = A + k0 * g.A.col_stride;
    if constexpr (kKM)
      load_a.template fetch<kVector>(a, g.A.col_stride, g.A.row_stride, k_valid, m_valid, access.a);
    else
      load_a.template fetch<kVector>(a, g.A.row_stride, g.A.col_stride, m_valid, k_valid, access.a);
    load_b.template fetch<kVector>(B + k0 * g.B.row_stride, g.B.row_stride, g.B.col_stride, k_valid, n_valid,
                                   access.b);
  }

  // Registers -> one shared buffer of each, through convert.
  template <typename SA, int PA, typename SB, int PB, typename Convert>
  __device__ void store(SA (*As)[PA], SB (*Bs)[PB], OperandAccess access, Convert convert) const {
    load_a.store(As, access.a.along_rows, convert);
    load_b.store(Bs, access.b.along_rows, convert);
  }
};

// The double-buffered main loop over the tiles of k (v4..v7): while the block computes on tile t
// in one shared buffer, its global loads of tile t + 1 are in flight into registers, and go to the
// other buffer after the compute; one __syncthreads per tile (the buffer written in iteration t was
// last read in iteration t - 1, which every thread has finished). fetch(t) loads tile t into
// registers, store(buffer) writes them to shared buffer 0 or 1, compute(buffer) uses one.
template <typename Fetch, typename Store, typename Compute>
__device__ __forceinline__ void double_buffered(int tiles, Fetch&& fetch, Store&& store, Compute&& compute) {
  if (tiles > 0) {
    fetch(0);
    store(0);
  }
  __syncthreads();
  for (int t = 0; t < tiles; ++t) {
    if (t + 1 < tiles) fetch(t + 1);
    compute(t & 1);
    if (t + 1 < tiles) store((t + 1) & 1);
    __syncthreads();
  }
}

struct Identity {
  __device__ float operator()(float x) const { return x; }
};

// C[m][n..n+3] = v (those of the four inside the matrix): one float4 store when C's rows are
// contiguous and aligned (vector_c), else scalar stores through the strides.
__device__ __forceinline__ void store_four(const MatrixRef<float>& C, float* c_base, int64_t m, int64_t n,
                                           int64_t M, int64_t N, bool vector_c, float4 v) {
  if (m >= M) return;
  float* row = c_base + m * C.row_stride;
  if (vector_c && n + 3 < N) {
    *reinterpret_cast<float4*>(row + n) = v;
    return;
  }
  const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i)
    if (n + i < N) row[(n + i) * C.col_stride] = e[i];
}

// True when C can take float4 stores at any column multiple of 4.
inline bool vector_rows(const MatrixRef<float>& C) {
  return C.col_stride == 1 && C.row_stride % 4 == 0 && C.batch_stride % 4 == 0 &&
         reinterpret_cast<uintptr_t>(C.data) % 16 == 0;
}

// Calls launch_one(chunk, grid) for pieces of the problem whose grid (N tiles, M tiles, batch)
// fits the device's limits (y and z at most 65535): the chunk's A and C start at its first row
// and batch entry.
template <typename LaunchOne>
void for_each_grid(const SgemmArgs& a, int tile_m, int tile_n, LaunchOne&& launch_one) {
  constexpr int64_t kMaxYZ = 65535;
  const int64_t tiles_n = (a.N + tile_n - 1) / tile_n, rows_per_launch = kMaxYZ * tile_m;
  CXR_CHECK(tiles_n <= INT32_MAX, "sgemm: N = ", a.N, " needs more than 2^31 blocks");
  for (int64_t z0 = 0; z0 < a.batch; z0 += kMaxYZ)
    for (int64_t m0 = 0; m0 < a.M; m0 += rows_per_launch) {
      SgemmArgs c = a;
      c.batch = std::min(kMaxYZ, a.batch - z0);
      c.M = std::min(rows_per_launch, a.M - m0);
      c.A.data += z0 * a.A.batch_stride + m0 * a.A.row_stride;
      c.B.data += z0 * a.B.batch_stride;
      c.C.data += z0 * a.C.batch_stride + m0 * a.C.row_stride;
      launch_one(c, dim3(unsigned(tiles_n), unsigned((c.M + tile_m - 1) / tile_m), unsigned(c.batch)));
    }
}

}  // namespace cxr::cuda::sgemm_tiles
