// indexing.cuh — how a kernel finds element i of N strided operands that share one iteration
// shape (the output's): the dims are coalesced on the host (tensor/strided_loop.h), so the common
// cases — contiguous tensors, a broadcast along one dim — cost one or two divisions per element,
// and a fully contiguous iteration none (`contiguous`). Offsets are in elements; 64-bit throughout.
#pragma once

#include <array>

#include "cuda/common.cuh"
#include "tensor/strided_loop.h"

namespace cxr::cuda {

inline constexpr int kMaxDims = 12;  // after coalescing; more throws naming the op

template <int N>
struct StridedIter {
  int ndim = 0;  // 0: a single element
  bool contiguous = false;  // every operand's offset is its index: no division at all
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};

  // The element offset in each operand of the linear (row-major) index i.
  __host__ __device__ void offsets(int64_t i, int64_t (&off)[N]) const {
    if (contiguous) {
      for (int k = 0; k < N; ++k) off[k] = i;
      return;
    }
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t size = sizes[d];
      const int64_t q = i / size;
      const int64_t r = i - q * size;
      i = q;
      for (int k = 0; k < N; ++k) off[k] += r * strides[k][d];
    }
  }
};

// The iteration over `shape` of operands with the given strides (all of `shape`'s rank; stride 0
// broadcasts). `op` names the kernel in the error for too many dims.
template <int N>
StridedIter<N> make_iter(const char* op, const Shape& shape, const std::array<Strides, N>& strides) {
  const CoalescedDims<N> c = coalesce_dims<N>(shape, strides);
  StridedIter<N> it;
  CXR_CHECK(int(c.sizes.size()) <= kMaxDims, op, ": ", c.sizes.size(), " dims after coalescing (at most ",
            kMaxDims, " on CUDA)");
  it.ndim = int(c.sizes.size());
  bool contiguous = it.ndim <= 1;
  for (int d = 0; d < it.ndim; ++d) {
    it.sizes[d] = c.sizes[size_t(d)];
    for (int k = 0; k < N; ++k) {
      it.strides[k][d] = c.strides[size_t(k)][size_t(d)];
      contiguous = contiguous && it.strides[k][d] == 1;
    }
  }
  it.contiguous = contiguous;
  return it;
}

// Grid-stride loop over [0, n).
#define CXR_GRID_STRIDE_LOOP(i, n)                                                          \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);                 \
       i += int64_t(blockDim.x) * gridDim.x)

}  // namespace cxr::cuda
