// layernorm.h — the layer-norm ladder of the kernel study (docs/KERNELS.md): the forward of layer
// norm over the last dim of a float32 (rows, cols) matrix, the backend's LayerNormForwardFn on
// contiguous rows:
//   mean = sum x / D,  var = sum (x - mean)^2 / D (biased),  rstd = 1 / sqrt(var + eps),
//   y = (x - mean) rstd w + b     (w = 1, b = 0 when absent; D = cols)
// with the row statistics saved for the backward. One version per file in cuda/kernels/layernorm/,
// v1 (block trees) .. v4 (fused, row in registers); float32 math, every reduction in a fixed
// order (deterministic, no atomics). Plain C++.
#pragma once

#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

struct LayerNormArgs {
  int64_t rows = 0, cols = 0;     // rows < 2^31
  const float* x = nullptr;       // (rows, cols) row-major, contiguous
  const float* weight = nullptr;  // (cols), or null (1)
  const float* bias = nullptr;    // (cols), or null (0)
  float eps = 1e-5f;
  float* out = nullptr;        // (rows, cols); may be x itself (in place), no other overlap
  float* save_mean = nullptr;  // (rows), or null
  float* save_rstd = nullptr;  // (rows), or null
};

const KernelLadder& layer_norm_ladder();
// Runs `version` on the backend's stream (device pointers). Throws naming the version for an
// unknown one, the sizes for bad ones.
void layer_norm_rows(int version, const LayerNormArgs& args);

}  // namespace cxr::cuda
