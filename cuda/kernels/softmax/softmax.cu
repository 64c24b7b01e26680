// softmax.cu — the softmax ladder's versions (softmax.h; one file each, cuda/kernels/softmax/vN_*.cuh)
// and their dispatch. docs/KERNELS.md explains each step.
#include "cuda/kernels/softmax/softmax.h"

#include "cuda/kernels/softmax/v1_thread_per_row.cuh"
#include "cuda/kernels/softmax/v2_block_shared.cuh"
#include "cuda/kernels/softmax/v3_warp_shuffle.cuh"
#include "cuda/kernels/softmax/v4_online.cuh"
#include "cuda/kernels/softmax/v5_fused_registers.cuh"

namespace cxr::cuda {

namespace softmax_rows_common {

// out = scale x + mask, a block per row (grid-stride over the rows), coalesced along it.
__global__ void __launch_bounds__(kBlock) scale_mask_kernel(SoftmaxArgs a) {
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const RowInput in = row_input(a, row);
    for (int64_t c = threadIdx.x; c < a.cols; c += kBlock) a.out[row * a.cols + c] = in.at(c);
  }
}

SoftmaxArgs unfuse(const SoftmaxArgs& a) {
  if (!a.fused()) return a;
  launch("softmax_scale_mask", scale_mask_kernel, grid_for(a.rows), kBlock, a);
  SoftmaxArgs plain = a;
  plain.x = a.out;
  plain.scale = 1.0f;
  plain.mask = nullptr;
  return plain;
}

}  // namespace softmax_rows_common

const KernelLadder& softmax_ladder() {
  static const KernelLadder ladder{
      "softmax",
      {
          {1, "v1_thread_per_row", "one thread per row, three passes from global memory"},
          {2, "v2_block_shared", "a block of 128 per row: coalesced, trees in shared memory"},
          {3, "v3_warp_shuffle", "a warp per row: butterfly shuffles, no shared memory or barriers"},
          {4, "v4_online", "online softmax: max and sum in one pass, two reads of the row"},
          {5, "v5_fused_registers", "scale and mask fused, the row once into registers (float4)"},
      },
      /*best=*/5};
  return ladder;
}

void softmax_rows(int version, const SoftmaxArgs& a) {
  CXR_CHECK(a.rows >= 0 && a.cols >= 0, "softmax: negative size rows=", a.rows, " cols=", a.cols);
  CXR_CHECK(a.rows_per_mask >= 1, "softmax: rows_per_mask must be >= 1, got ", a.rows_per_mask);
  CXR_CHECK(a.rows <= INT32_MAX && a.rows_per_mask <= INT32_MAX, "softmax: at most 2^31 - 1 rows, got rows=", a.rows,
            " rows_per_mask=", a.rows_per_mask);
  if (a.rows == 0 || a.cols == 0) return;
  CXR_CHECK(a.x != nullptr && a.out != nullptr, "softmax: a null operand for rows=", a.rows, " cols=", a.cols);
  switch (version) {
    case 1: return softmax_v1::run(a);
    case 2: return softmax_v2::run(a);
    case 3: return softmax_v3::run(a);
    case 4: return softmax_v4::run(a);
    case 5: return softmax_v5::run(a);
    default: fail("softmax: no kernel version ", version, " (", softmax_ladder().versions.size(), " versions)");
  }
}

}  // namespace cxr::cuda
