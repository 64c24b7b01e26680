// strided_loop.h — the one loop every reference kernel is built on: visit every index of a shape
// in row-major order and hand the body the element offset of that index in each of N operands,
// given each operand's strides (in elements; stride 0 broadcasts). Offsets are updated
// incrementally, so the inner loop is a plain strided walk.
//
//   for_each_offset<2>(out.shape(), {out.strides(), x.strides()},
//                      [&](const Offsets<2>& o) { po[o[0]] = f(px[o[1]]); });
//
// coalesce_dims() is what the fast kernels walk instead (tensor/cpu/loops.h, cuda/indexing.cuh):
// the same elements in the same order with fewer dims, adjacent dims merged wherever every
// operand's strides allow it (a contiguous tensor becomes one dim, a per-channel broadcast over
// NCHW rows of H*W) and size-1 dims dropped.
#pragma once

#include <array>
#include <vector>

#include "tensor/shape.h"

namespace cxr {

template <size_t N>
using Offsets = std::array<int64_t, N>;

template <size_t N, typename Body>
void for_each_offset(const Shape& shape, const std::array<Strides, N>& strides, Body&& body) {
  const size_t nd = shape.size();
  for (int64_t s : shape)
    if (s == 0) return;
  Offsets<N> off{};
  if (nd == 0) {
    body(off);
    return;
  }
  std::vector<int64_t> index(nd, 0);
  const int64_t inner = shape[nd - 1];
  while (true) {
    for (int64_t i = 0; i < inner; ++i) {
      body(off);
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][nd - 1];
    }
    for (size_t k = 0; k < N; ++k) off[k] -= inner * strides[k][nd - 1];
    // Odometer step over the outer dims.
    size_t d = nd - 1;
    while (true) {
      if (d == 0) return;
      --d;
      ++index[d];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (index[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= index[d] * strides[k][d];
      index[d] = 0;
    }
  }
}

template <size_t N>
struct CoalescedDims {
  Shape sizes;                     // empty for a single element
  std::array<Strides, N> strides;  // per operand, one per kept dim
};

template <size_t N>
CoalescedDims<N> coalesce_dims(const Shape& shape, const std::array<Strides, N>& strides) {
  CoalescedDims<N> c;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;  // a size-1 dim moves nothing
    bool merge = !c.sizes.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = c.strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      c.sizes.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) c.strides[k].back() = strides[k][d];
    } else {
      c.sizes.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) c.strides[k].push_back(strides[k][d]);
    }
  }
  return c;
}

}  // namespace cxr
