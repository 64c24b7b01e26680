// loops.h — how the fast elementwise kernels walk tensors: the operands' dims are coalesced
// (adjacent dims merged wherever every operand's strides allow it, so a contiguous tensor is one
// row and a per-channel broadcast over NCHW is rows of H*W), then the rows are spread over
// threads and each row handed to a vectorized loop (vec.h) with its inner strides.
#pragma once

#include <array>
#include <cstdint>

#include "tensor/cpu/runtime.h"
#include "tensor/shape.h"
#include "tensor/strided_loop.h"

namespace cxr::cpu {

template <size_t N>
struct Rows {
  Shape outer;                           // sizes of the dims above the row
  std::array<Strides, N> outer_strides;  // per operand
  std::array<int64_t, N> inner_stride{};
  int64_t inner = 1, count = 1;  // row length, number of rows
};

// Coalesces (shape, strides of each operand) into rows (tensor/strided_loop.h).
template <size_t N>
Rows<N> make_rows(const Shape& shape, const std::array<Strides, N>& strides) {
  const CoalescedDims<N> c = coalesce_dims<N>(shape, strides);
  const Shape& s = c.sizes;
  const std::array<Strides, N>& st = c.strides;
  Rows<N> r;
  if (s.empty()) {  // a single element
    for (size_t k = 0; k < N; ++k) r.inner_stride[k] = 1;
    return r;
  }
  r.inner = s.back();
  for (size_t k = 0; k < N; ++k) {
    r.inner_stride[k] = st[k].back();
    r.outer_strides[k] = Strides(st[k].begin(), st[k].end() - 1);
  }
  r.outer = Shape(s.begin(), s.end() - 1);
  r.count = shape_numel(r.outer);
  return r;
}

// Calls body(offsets, n) for every row (offsets[k]: element offset of the row's start in operand
// k), rows spread over threads in chunks of about `grain` elements.
template <size_t N, typename Body>
void for_each_row(const Rows<N>& r, int64_t grain, Body&& body) {
  const int64_t rows_per_chunk = std::max<int64_t>(1, grain / std::max<int64_t>(r.inner, 1));
  parallel_for(r.count, rows_per_chunk, [&](int64_t r0, int64_t r1) {
    const size_t nd = r.outer.size();
    int64_t idx[16] = {};
    std::array<int64_t, N> off{};
    int64_t rem = r0;  // the multi-index of row r0
    for (size_t d = nd; d-- > 0;) {
      idx[d] = rem % r.outer[d];
      rem /= r.outer[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * r.outer_strides[k][d];
    }
    for (int64_t row = r0; row < r1; ++row) {
      body(off, r.inner);
      for (size_t d = nd; d-- > 0;) {  // odometer step
        for (size_t k = 0; k < N; ++k) off[k] += r.outer_strides[k][d];
        if (++idx[d] < r.outer[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= idx[d] * r.outer_strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

// Elements per chunk of a memory-bound loop: large enough that a chunk outweighs handing it out.
inline constexpr int64_t kElementwiseGrain = 32 * 1024;

}  // namespace cxr::cpu
