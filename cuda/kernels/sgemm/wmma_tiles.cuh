// wmma_tiles.cuh — what the tensor-core versions (v6 TF32, v7 BF16) share: the WMMA headers (or
// the emulator's subset of them, cuda/emulator.h), the conversions of the load path, and the
// epilogue's store of a 16 x 16 accumulator fragment to C at any edge and in any layout.
#pragma once

#include "cuda/kernels/sgemm/tiles.cuh"

#if !defined(CXR_CUDA_EMULATION)
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace cxr::cuda::sgemm_tiles {

// float -> TF32 (10 mantissa bits, to nearest, ties away from zero) and float -> BF16 (to nearest
// even): applied once per element as a tile is copied to shared memory.
struct ToTf32 {
  __device__ float operator()(float x) const { return nvcuda::wmma::__float_to_tf32(x); }
};
struct ToBf16 {
  __device__ __nv_bfloat16 operator()(float x) const { return __float2bfloat16(x); }
};

// True when C takes wmma::store_matrix_sync straight from a fragment at any (m, n) multiple of 16:
// rows contiguous, ldm a multiple of 4 floats that fits the call's unsigned, every fragment
// 256-bit aligned.
inline bool wmma_rows(const MatrixRef<float>& C) {
  return C.col_stride == 1 && C.row_stride % 4 == 0 && C.row_stride <= int64_t(UINT32_MAX) && C.batch_stride % 8 == 0 &&
         reinterpret_cast<uintptr_t>(C.data) % 32 == 0;
}

// C[m..m+15][n..n+15] = acc (the part inside M x N), by the whole warp: straight from the fragment
// when it lies inside and C allows (direct), else through the warp's 16 x 16 scratch in shared
// memory and guarded scalar stores. m and n are the same for every lane.
template <typename Accumulator>
__device__ void store_fragment(const Accumulator& acc, const MatrixRef<float>& C, float* c_base, int64_t m,
                               int64_t n, int64_t M, int64_t N, bool direct, float* scratch) {
  namespace wmma = nvcuda::wmma;
  if (direct && m + 16 <= M && n + 16 <= N) {
    wmma::store_matrix_sync(c_base + m * C.row_stride + n, acc, unsigned(C.row_stride), wmma::mem_row_major);
    return;
  }
  wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
  __syncwarp();  // every lane's share of the tile is in scratch
  for (int e = int(threadIdx.x) % 32; e < 16 * 16; e += 32) {
    const int64_t row = m + e / 16, col = n + e % 16;
    if (row < M && col < N) c_base[row * C.row_stride + col * C.col_stride] = scratch[e];
  }
  __syncwarp();  // before the next fragment overwrites scratch
}

}  // namespace cxr::cuda::sgemm_tiles
