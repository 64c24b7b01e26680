// bnstats.cu — the batch-norm statistics ladder's versions (bnstats.h; one file each,
// cuda/kernels/bnstats/vN_*.cuh), the fold of v3/v4's parts, and the dispatch. docs/KERNELS.md
// explains each step.
#include "cuda/kernels/bnstats/bnstats.h"

#include <algorithm>

#include "cuda/kernels/bnstats/v1_naive_double.cuh"
#include "cuda/kernels/bnstats/v2_block_two_pass.cuh"
#include "cuda/kernels/bnstats/v3_split_welford.cuh"
#include "cuda/kernels/bnstats/v4_split_warp_vec.cuh"

namespace cxr::cuda {

namespace bn_stats_common {

__global__ void fold_parts_kernel(BnStatsArgs a, int parts, const Welford* partials) {
  CXR_GRID_STRIDE_LOOP(c, a.C) {
    Welford total = partials[c * parts];
    for (int p = 1; p < parts; ++p) total = welford_combine(total, partials[c * parts + p]);
    a.mean[c] = total.n == 0.0f ? Limits<float>::quiet_nan() : total.mean;
    a.var[c] = total.m2 / total.n;  // 0/0 = NaN for an empty channel
  }
}

void fold_parts(const BnStatsArgs& a, int parts, const Welford* partials) {
  launch("bn_stats_fold_parts", fold_parts_kernel, blocks_for(a.C), kBlock, a, parts, partials);
}

Tensor partial_buffer(int64_t C, int parts) {
  const int64_t bytes = C * parts * int64_t(sizeof(Welford));
  return empty({(bytes + 7) / 8}, {DType::Int64, Device::CUDA, false});
}

}  // namespace bn_stats_common

int bn_stats_parts(int64_t count, int64_t C) {
  const int64_t by_count = (count + 8191) / 8192, by_blocks = (1024 + C - 1) / std::max<int64_t>(C, 1);
  return int(std::max<int64_t>(1, std::min<int64_t>({by_count, by_blocks, 64})));
}

const KernelLadder& bn_stats_ladder() {
  static const KernelLadder ladder{
      "bn_stats",
      {
          {1, "v1_naive_double", "one thread per channel, two passes in double"},
          {2, "v2_block_two_pass", "a block per channel, float32 two passes, a shared-memory tree"},
          {3, "v3_split_welford", "channels split into parts: one Welford pass, Chan tree, ordered fold"},
          {4, "v4_split_warp_vec", "float4 batches of 4, warp-shuffle combines"},
      },
      /*best=*/4};
  return ladder;
}

void bn_stats(int version, const BnStatsArgs& a) {
  CXR_CHECK(a.N >= 0 && a.C >= 0 && a.HW >= 0, "bn_stats: negative size N=", a.N, " C=", a.C, " HW=", a.HW);
  CXR_CHECK(a.N * a.HW < (int64_t(1) << 24) && a.C <= INT32_MAX,
            "bn_stats: at most 2^24 - 1 elements a channel, got N=", a.N, " HW=", a.HW);
  if (a.C == 0) return;
  CXR_CHECK(a.mean != nullptr && a.var != nullptr && (a.x != nullptr || a.N * a.HW == 0),
            "bn_stats: a null operand for N=", a.N, " C=", a.C, " HW=", a.HW);
  switch (version) {
    case 1: return bn_stats_v1::run(a);
    case 2: return bn_stats_v2::run(a);
    case 3: return bn_stats_v3::run(a);
    case 4: return bn_stats_v4::run(a);
    default: fail("bn_stats: no kernel version ", version, " (", bn_stats_ladder().versions.size(), " versions)");
  }
}

}  // namespace cxr::cuda
