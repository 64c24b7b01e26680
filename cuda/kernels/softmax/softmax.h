// softmax.h — the softmax ladder of the kernel study (docs/KERNELS.md): row softmax (or
// log-softmax) over the last dim of a float32 (rows, cols) matrix, the backend's SoftmaxFn on a
// contiguous last dim, optionally fused with attention's scale and additive mask:
//   t = scale x + mask[row / rows_per_mask],  y = exp(t - max t) / sum exp(t - max t)  (or log of it)
// One version per file in cuda/kernels/softmax/, v1 (a thread per row) .. v5 (fused, row in
// registers). Every version: any rows and cols, float32 math, a fixed order of every reduction
// (deterministic, no atomics). Plain C++.
#pragma once

#include <cstdint>

#include "cuda/kernels/versions.h"

namespace cxr::cuda {

struct SoftmaxArgs {
  int64_t rows = 0, cols = 0;   // rows < 2^31
  const float* x = nullptr;     // (rows, cols) row-major, contiguous
  float* out = nullptr;         // (rows, cols) row-major; may be x itself (in place), no other overlap
  bool log = false;             // log_softmax
  float scale = 1.0f;           // the fused form's scale (attention: 1 / sqrt(head size))
  const float* mask = nullptr;  // additive, (ceil(rows / rows_per_mask), cols) row-major, or null
  int64_t rows_per_mask = 1;    // rows that share a mask row (attention (B, 1, 1, L): heads x queries)
  bool fused() const { return scale != 1.0f || mask != nullptr; }
};

const KernelLadder& softmax_ladder();
// Runs `version` on the backend's stream (device pointers). v1..v4 run a fused problem as the
// engine does today: one elementwise pass t = scale x + mask into out, then the softmax in place;
// v5 fuses it. Throws naming the version for an unknown one, the sizes for bad ones.
void softmax_rows(int version, const SoftmaxArgs& args);

// cuDNN's cudnnSoftmaxForward (ACCURATE or LOG, mode INSTANCE) on the same rows, the bench's
// yardstick (cudnn_softmax.cu); a fused problem runs the scale-and-mask pass first. Throws in the
// emulated build (no cuDNN).
void cudnn_softmax(const SoftmaxArgs& args);

}  // namespace cxr::cuda
