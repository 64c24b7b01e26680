// welford.cuh — the running float32 statistics (count, mean, M2 = sum (x - mean)^2) that the layer-norm and
// batch-norm statistics ladders share: welford_add folds one element in (Welford 1962), welford_combine merges two
// disjoint sets (Chan, Golub and LeVeque 1979). combine is not symmetric in its rounding, so every caller combines
// in a fixed order (that is what keeps the ladders deterministic).
#pragma once

#include "cuda/common.cuh"

namespace cxr::cuda {

struct Welford {
  float n, mean, m2;
};
__device__ __forceinline__ Welford welford_add(Welford w, float x) {
  const float n = w.n + 1.0f, d = x - w.mean;
  const float mean = w.mean + d / n;
  return {n, mean, w.m2 + d * (x - mean)};
}
__device__ __forceinline__ Welford welford_combine(Welford a, Welford b) {
  if (b.n == 0.0f) return a;
  if (a.n == 0.0f) return b;
  const float n = a.n + b.n, d = b.mean - a.mean, f = b.n / n;
  return {n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f};
}

}  // namespace cxr::cuda
