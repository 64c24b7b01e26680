// strided_loop.h — the one loop every reference kernel is built on: visit every index of a shape
// in row-major order and hand the body the element offset of that index in each of N operands,
// given each operand's strides (in elements; stride 0 broadcasts). Offsets are updated
// incrementally, so the inner loop is a plain strided walk.
//
//   for_each_offset<2>(out.shape(), {out.strides(), x.strides()},
//                      [&](const Offsets<2>& o) { po[o[0]] = f(px[o[1]]); });
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

}  // namespace cxr
