// v6_tf32_wmma.cuh — SGEMM v6: the tensor cores, in TF32 through WMMA (m16n16k8, FP32 accumulate).
// Opt-in: TF32 keeps 10 of float32's 23 mantissa bits of each input (relative error up to 2^-11
// an input), so the result is not float32 GEMM's; the ladder marks it exact_fp32 = false.
//   What it adds: the multiply moves from the FP32 units to the tensor cores (dense TF32 on an
//   H100 SXM: ~495 TFLOP/s by the datasheet, 7.4x FP32's 67). The block tile stays 128 x 128, with
//   BK 16 and 256 threads; the 8 warps stand 2 (m) x 4 (n), each owning 64 x 32 of C as 4 x 2
//   accumulator fragments of 16 x 16. Per 8 of k a warp loads 2 B fragments (8 x 16) and, one at a
//   time, 4 A fragments (16 x 8) from shared memory, and issues 8 mma_sync: 8 x 4096 flops for 6
//   fragment loads (3 KB). The inputs are rounded to TF32 once, as a tile is copied to shared
//   memory (ToTf32, the rounding of wmma::__float_to_tf32), not at every fragment load. As is
//   stored [m][k] (WMMA's row-major A); both pitches are skewed by 16 bytes (As 20 floats, Bs 132)
//   so that the 16 rows of a fragment fall evenly on the 32 banks. The epilogue stores each
//   fragment straight to C, or through a per-warp 16 x 16 scratch at the edges and for layouts
//   WMMA cannot store (wmma_tiles.cuh). The tile copies and double buffering are v4's.
//   flops 2MNK. Global bytes MNK/16 as v4 (4.3 GB at 4096^3: 1.3 ms if none of it hit in L2, now
//   above the TF32 floor of 0.28 ms: this tile size needs the L2's reuse, or larger tiles). Shared:
//   As[2][128][20] + Bs[2][16][132] + scratch 8 KB = 44.5 KB. ~180 registers (64 accumulator
//   floats, fragments, 16 prefetched floats; capped at 128 for 2 blocks per SM they spill), so one
//   block of 8 warps per SM.
//   What it lacks, so the target of >= 0.7x cuBLAS TF32 is not expected of it as written: the
//   multi-stage cp.async copies, ldmatrix-friendly swizzles and Hopper's wgmma/TMA that cuBLAS
//   uses; they need inline PTX the emulator cannot run. measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/wmma_tiles.cuh"

namespace cxr::cuda::sgemm_v6 {

using sgemm_tiles::OperandAccess;
constexpr int kBM = 128, kBN = 128, kThreads = 256, kWarpM = 64, kWarpN = 32;

struct Tf32 {
  using Element = float;  // in shared memory
  using Convert = sgemm_tiles::ToTf32;
  static constexpr int kBK = 16, kMmaK = 8;
  using FragmentA = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 8, nvcuda::wmma::precision::tf32,
                                           nvcuda::wmma::row_major>;
  using FragmentB = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 8, nvcuda::wmma::precision::tf32,
                                           nvcuda::wmma::row_major>;
  using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 8, float>;
};

// P: the precision (Tf32; v7's Bf16): the shared element type, the conversion, the mma's shape;
// kVector: both operands take float4 tile copies (OperandAccess::vector).
// (No minimum of blocks per SM in the launch bounds: capped at 128 registers, for 2 blocks, the
// fragments spill; with ~180 registers one block of 8 warps runs per SM.)
template <typename P, bool kVector>
__global__ void __launch_bounds__(kThreads) kernel(SgemmArgs a, OperandAccess access, bool direct_c) {
  namespace wmma = nvcuda::wmma;
  using E = typename P::Element;
  constexpr int BK = P::kBK, kSkew = 16 / int(sizeof(E));  // 16 bytes
  alignas(32) __shared__ E As[2][kBM][BK + kSkew];           // As[m][k]
  alignas(32) __shared__ E Bs[2][BK][kBN + kSkew];           // Bs[k][n]
  alignas(32) __shared__ float scratch[kThreads / 32][16 * 16];
  const int warp = int(threadIdx.x) / 32;
  const int row0 = warp / 4 * kWarpM, col0 = warp % 4 * kWarpN;
  using Tiles = sgemm_tiles::BlockTiles<sgemm_tiles::SharedA::MK, kBM, kBN, BK, kThreads>;
  Tiles tiles(a);
  typename P::Accumulator acc[kWarpM / 16][kWarpN / 16];
#pragma unroll
  for (auto& row : acc)
#pragma unroll
    for (auto& f : row) wmma::fill_fragment(f, 0.0f);
  sgemm_tiles::double_buffered(
      Tiles::k_tiles(a), [&](int tile) { tiles.template fetch<kVector>(a, tile, access); },
      [&](int buf) { tiles.store(As[buf], Bs[buf], access, typename P::Convert{}); },
      [&](int buf) {
#pragma unroll
        for (int k = 0; k < BK; k += P::kMmaK) {
          typename P::FragmentB fb[kWarpN / 16];
#pragma unroll
          for (int j = 0; j < kWarpN / 16; ++j) wmma::load_matrix_sync(fb[j], &Bs[buf][k][col0 + 16 * j], kBN + kSkew);
#pragma unroll
          for (int i = 0; i < kWarpM / 16; ++i) {
            typename P::FragmentA fa;
            wmma::load_matrix_sync(fa, &As[buf][row0 + 16 * i][k], BK + kSkew);
#pragma unroll
            for (int j = 0; j < kWarpN / 16; ++j) wmma::mma_sync(acc[i][j], fa, fb[j], acc[i][j]);
          }
        }
      });
  float* C = a.C.data + blockIdx.z * a.C.batch_stride + Tiles::n0() * a.C.col_stride;
#pragma unroll
  for (int i = 0; i < kWarpM / 16; ++i)
#pragma unroll
    for (int j = 0; j < kWarpN / 16; ++j)
      sgemm_tiles::store_fragment(acc[i][j], a.C, C, Tiles::m0() + row0 + 16 * i, col0 + 16 * j, a.M, a.N - Tiles::n0(),
                                  direct_c, scratch[warp]);
}

template <typename P>
void run_with(const char* name, const SgemmArgs& args) {
  sgemm_tiles::for_each_grid(args, kBM, kBN, [name](const SgemmArgs& a, dim3 grid) {
    const OperandAccess access = sgemm_tiles::operand_access<sgemm_tiles::SharedA::MK>(a);
    const bool direct_c = sgemm_tiles::wmma_rows(a.C);
    if (access.vector())
      launch(name, kernel<P, true>, grid, dim3(kThreads), a, access, direct_c);
    else
      launch(name, kernel<P, false>, grid, dim3(kThreads), a, access, direct_c);
  });
}

inline void run(const SgemmArgs& args) { run_with<Tf32>("sgemm_v6_tf32_wmma", args); }

}  // namespace cxr::cuda::sgemm_v6
