// layernorm.cu — the layer-norm ladder's versions (layernorm.h; one file each,
// cuda/kernels/layernorm/vN_*.cuh) and their dispatch. docs/KERNELS.md explains each step.
#include "cuda/kernels/layernorm/layernorm.h"

#include "cuda/kernels/layernorm/v1_block_shared.cuh"
#include "cuda/kernels/layernorm/v2_warp_shuffle.cuh"
#include "cuda/kernels/layernorm/v3_welford.cuh"
#include "cuda/kernels/layernorm/v4_fused_registers.cuh"

namespace cxr::cuda {

const KernelLadder& layer_norm_ladder() {
  static const KernelLadder ladder{
      "layer_norm",
      {
          {1, "v1_block_shared", "a block of 128 per row, two-pass statistics, trees in shared memory"},
          {2, "v2_warp_shuffle", "a warp per row: butterfly shuffles, no shared memory or barriers"},
          {3, "v3_welford", "one-pass Welford statistics, Chan's combine: two reads of the row"},
          {4, "v4_fused_registers", "the row once into registers (float4): statistics and affine from there"},
      },
      /*best=*/4};
  return ladder;
}

void layer_norm_rows(int version, const LayerNormArgs& a) {
  CXR_CHECK(a.rows >= 0 && a.cols >= 0, "layer_norm: negative size rows=", a.rows, " cols=", a.cols);
  CXR_CHECK(a.rows <= INT32_MAX && a.cols < (int64_t(1) << 24),
            "layer_norm: at most 2^31 - 1 rows of < 2^24, got rows=", a.rows, " cols=", a.cols);
  if (a.rows == 0 || a.cols == 0) return;
  CXR_CHECK(a.x != nullptr && a.out != nullptr, "layer_norm: a null operand for rows=", a.rows, " cols=", a.cols);
  switch (version) {
    case 1: return layer_norm_v1::run(a);
    case 2: return layer_norm_v2::run(a);
    case 3: return layer_norm_v3::run(a);
    case 4: return layer_norm_v4::run(a);
    default: fail("layer_norm: no kernel version ", version, " (", layer_norm_ladder().versions.size(), " versions)");
  }
}

}  // namespace cxr::cuda
