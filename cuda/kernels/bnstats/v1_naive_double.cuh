// v1_naive_double.cuh — batch-norm statistics v1: one thread per channel, the reference's two
// passes (sum, then squared deviations from the mean) accumulated in double, walking the channel
// image by image (n), pixel by pixel (hw). The obviously correct baseline (and the backend's
// numerics before the ladder). It is also why the others exist: a single float32 running sum of
// count elements drifts by up to count x u (u = 2^-24) relative, 25% at bn1's 4.2M, so naive
// float32 is not an option, and double makes it slow but exact.
//   Parallelism: C threads. resnet256_6_2_1's bn1 at batch 64 (64 x 8 x 256 x 256): 8 threads for
//   33.5M elements; each thread's two passes are a chain of 8.4M dependent FP64 additions (~8
//   cycles each at 1.98 GHz): >= ~34 ms, against the 80 us floor of reading its 134 MB twice
//   (268 MB at 3.35 TB/s). At layer6 (64 x 192 x 4 x 4): 192 threads of 2048 additions, again
//   latency-bound. The loads do not coalesce (a warp's lanes are 32 channels, HW x 4 B apart).
//   measured: not yet run on a GPU.
#pragma once

#include "cuda/kernels/bnstats/common.cuh"

namespace cxr::cuda::bn_stats_v1 {

inline constexpr int kThreads = 128;

__global__ void __launch_bounds__(kThreads) kernel(BnStatsArgs a) {
  const int64_t count = a.N * a.HW;
  CXR_GRID_STRIDE_LOOP(c, a.C) {
    const float* x = a.x + c * a.HW;
    double s = 0;
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t hw = 0; hw < a.HW; ++hw) s += double(x[n * a.C * a.HW + hw]);
    const double mean = s / double(count);
    double ss = 0;
    for (int64_t n = 0; n < a.N; ++n)
      for (int64_t hw = 0; hw < a.HW; ++hw) {
        const double d = double(x[n * a.C * a.HW + hw]) - mean;
        ss += d * d;
      }
    a.mean[c] = float(mean);
    a.var[c] = float(ss / double(count));
  }
}

inline void run(const BnStatsArgs& a) {
  launch("bn_stats_v1_naive_double", kernel, blocks_for(a.C, kThreads), kThreads, a);
}

}  // namespace cxr::cuda::bn_stats_v1
