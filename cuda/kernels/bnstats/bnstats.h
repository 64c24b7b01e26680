// bnstats.h — the batch-norm statistics ladder of the kernel study (docs/KERNELS.md): per channel c
// of a float32 NCHW tensor x (N, C, HW), over its count = N x HW elements,
//   mean[c] = sum x / count,   var[c] = sum (x - mean)^2 / count   (biased; training's statistics)
// the reduction the backend's batch_norm_forward runs in training. Deterministic: every version
// adds in a fixed order that depends only on the shape (a fixed tree, a fixed split into parts
// folded in a fixed order), no atomics, so the results are bit-identical from run to run and
// device to device. One version per file in cuda/kernels/bnstats/, v1 (naive) .. v4. Plain C++.
#pragma once

#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

struct BnStatsArgs {
  int64_t N = 0, C = 0, HW = 0;  // N x HW < 2^24 (float counts are exact), C < 2^31
  const float* x = nullptr;      // (N, C, HW) contiguous
  float* mean = nullptr;         // (C)
  float* var = nullptr;          // (C), biased
};

const KernelLadder& bn_stats_ladder();
// Runs `version` on the backend's stream (device pointers). Throws naming the version for an
// unknown one, the sizes for bad ones. An empty channel (N x HW = 0) gives NaN (0/0), as the
// reference.
void bn_stats(int version, const BnStatsArgs& args);

// The parts each channel is split into by v3 and v4 (from the shape alone, never the device):
// enough blocks in total (~1024) for few channels, >= 8192 elements a part, at most 64.
int bn_stats_parts(int64_t count, int64_t C);

}  // namespace cxr::cuda
