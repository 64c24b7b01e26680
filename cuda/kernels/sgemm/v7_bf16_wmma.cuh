// v7_bf16_wmma.cuh — SGEMM v7: BF16 inputs with FP32 accumulation on the tensor cores (WMMA
// m16n16k16). A, B and C stay float32 in global memory; the load path rounds each element to
// BF16 (to nearest even, __float2bfloat16) as it copies a tile to shared memory. Opt-in: BF16 keeps
// 7 of float32's 23 mantissa bits (relative error up to 2^-8 an input), exact_fp32 = false.
//   What it adds over v6: half the bytes per element in shared memory and in the fragments, and
//   twice the tensor-core rate (dense BF16 on an H100 SXM: ~989 TFLOP/s by the datasheet). It is
//   v6's kernel with the Bf16 precision: BK 16 (one mma step of k 16 per tile, the flops per
//   __syncthreads of v6's two steps of 8), pitches skewed by 16 bytes (As 24, Bs 136 bf16).
//   flops 2MNK. Global bytes MNK/16 (float32 reads, 4.3 GB at 4096^3: 1.3 ms if none of it hit in
//   L2, against a BF16 floor of 0.14 ms: bound by the L2 and DRAM at this tile size; operands kept
//   in BF16 in memory would halve it). Shared per 16 of k and warp: 6 fragments x 512 B for 65536
//   flops; As[2][128][24] + Bs[2][16][136] bf16 + scratch 8 KB = 28.5 KB. ~170 registers: one
//   block of 8 warps per SM, as v6.
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/sgemm/v6_tf32_wmma.cuh"

namespace cxr::cuda::sgemm_v7 {

struct Bf16 {
  using Element = __nv_bfloat16;
  using Convert = sgemm_tiles::ToBf16;
  static constexpr int kBK = 16, kMmaK = 16;
  using FragmentA =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __nv_bfloat16, nvcuda::wmma::row_major>;
  using FragmentB =
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, __nv_bfloat16, nvcuda::wmma::row_major>;
  using Accumulator = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float>;
};

inline void run(const SgemmArgs& args) { sgemm_v6::run_with<Bf16>("sgemm_v7_bf16_wmma", args); }

}  // namespace cxr::cuda::sgemm_v7
