// v7_bf16_wmma.cuh — SGEMM v7: BF16 inputs with FP32 accumulation on the tensor cores (WMMA
// m16n16k16). A, B and C stay float32 in global memory; the load path rounds each element to
// BF16 (to nearest even, __float2bfloat16) as it copies a tile to shared memory. Opt-in: BF16 keeps
// 7 of float32's 23 mantissa bits (relative error up to 2^-9 an input), exact_fp32 = false.
//   What it adds over v6: half the bytes per element in shared memory and fragments, and twice
//   the tensor-core rate (dense BF16 peak on an H100 SXM ~989 TFLOP/s). It is v6's kernel with
//   the Bf16 precision: BK = 32 (two mma steps of 16 per tile, so as many flops per __syncthreads
//   as v6 has per byte of shared memory), pitches skewed by 16 bytes (As 40, Bs 136 bf16).
//   flops 2MNK. Global bytes MNK/16 (float32 reads, 4.3 GB at 4096^3: 1.3 ms from DRAM against a
//   BF16 floor of 0.14 ms: strongly bound by the L2/DRAM at this tile size; a model that keeps
//   its weights in BF16 would halve it). Shared per 16 of k and warp: 6 fragments x 512 B for
//   65536 flops; As[2][128][40] + Bs[2][32][136] bf16 + scratch 8 KB = 45 KB. Registers: 64
//   accumulator floats, fragments, 16 prefetched floats (~140: 1-2 blocks per SM).
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
