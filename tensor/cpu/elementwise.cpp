// elementwise.cpp — fast unary, binary (broadcasting), fill and copy kernels: float32/float64
// operands whose coalesced rows are contiguous (or broadcast scalars along the row) run the
// vectorized loops of vec.h over threads; anything else (int64/bool arithmetic, dtype
// conversions, rows with other strides) runs the reference kernel. Same contracts as
// ops/elementwise.cpp and copy.cpp; every element is computed by the same expression as in
// the reference, so the maps here are exact (bit-identical) except where an instruction set
// contracts a*b+c into one FMA.
#include <algorithm>
#include <cstring>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/vec.h"

namespace cxr::cpu {
namespace {
bool is_float(DType t) { return t == DType::Float32 || t == DType::Float64; }
constexpr int kMaxDims = 16;
}  // namespace

void unary_fast(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params) {
  if (!is_float(x.dtype()) || !vec_unary_supported(op) || x.dim() > kMaxDims) {
    return unary_kernel.cpu_reference()(op, x, out, params);
  }
  const Rows<2> rows = make_rows<2>(out.shape(), {out.strides(), x.strides()});
  if (rows.inner_stride[0] != 1 || rows.inner_stride[1] != 1) return unary_kernel.cpu_reference()(op, x, out, params);
  visit_floating(x.dtype(), "unary", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_row(rows, kElementwiseGrain, [&](const std::array<int64_t, 2>& off, int64_t n) {
      ops.unary(op, px + off[1], po + off[0], n, params);
    });
  });
}

void binary_fast(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (!is_float(a.dtype()) || out.dim() > kMaxDims) return binary_kernel.cpu_reference()(op, a, b, out);
  const Rows<3> rows = make_rows<3>(out.shape(), {out.strides(), a.strides(), b.strides()});
  const int64_t sa = rows.inner_stride[1], sb = rows.inner_stride[2];
  const bool ok = rows.inner_stride[0] == 1 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) && (sa | sb);
  if (!ok && rows.inner > 1) return binary_kernel.cpu_reference()(op, a, b, out);
  const bool compare = op >= BinaryOp::Eq;
  visit_floating(a.dtype(), "binary", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    // A row of one element: take both operands as "vectors" of length 1.
    const int64_t ia = rows.inner > 1 ? sa : 1, ib = rows.inner > 1 ? sb : 1;
    if (compare) {
      bool* po = out.data<bool>();
      for_each_row(rows, kElementwiseGrain, [&](const std::array<int64_t, 3>& off, int64_t n) {
        ops.compare(op, pa + off[1], ia, pb + off[2], ib, po + off[0], n);
      });
    } else {
      T* po = out.data<T>();
      for_each_row(rows, kElementwiseGrain, [&](const std::array<int64_t, 3>& off, int64_t n) {
        ops.binary(op, pa + off[1], ia, pb + off[2], ib, po + off[0], n);
      });
    }
  });
}

void fill_fast(const Tensor& dst, double value) {
  if (!is_float(dst.dtype()) || !dst.is_contiguous()) return fill_kernel.cpu_reference()(dst, value);
  visit_floating(dst.dtype(), "fill", [&]<typename T>() {
    T* p = dst.data<T>();
    const T v = T(value);
    parallel_for(dst.numel(), kElementwiseGrain, [&](int64_t i0, int64_t i1) { std::fill(p + i0, p + i1, v); });
  });
}

void copy_fast(const Tensor& dst, const Tensor& src) {
  // Conversions, and copies between views of one storage (which may overlap), go to the reference.
  if (dst.dtype() != src.dtype() || dst.dim() > kMaxDims || dst.impl()->storage == src.impl()->storage) {
    return copy_kernel.cpu_reference()(dst, src);
  }
  const Rows<2> rows = make_rows<2>(dst.shape(), {dst.strides(), src.strides()});
  if (rows.inner_stride[0] != 1 && rows.inner > 1) return copy_kernel.cpu_reference()(dst, src);
  const size_t size = dtype_size(dst.dtype());
  char* pd = static_cast<char*>(dst.data_ptr());
  const char* ps = static_cast<const char*>(src.data_ptr());
  const int64_t ss = rows.inner > 1 ? rows.inner_stride[1] : 1;
  for_each_row(rows, kElementwiseGrain, [&](const std::array<int64_t, 2>& off, int64_t n) {
    char* d = pd + off[0] * int64_t(size);
    const char* s = ps + off[1] * int64_t(size);
    if (ss == 1) {
      std::memcpy(d, s, size_t(n) * size);
    } else if (size == 4) {
      for (int64_t i = 0; i < n; ++i) std::memcpy(d + 4 * i, s + 4 * i * ss, 4);
    } else if (size == 8) {
      for (int64_t i = 0; i < n; ++i) std::memcpy(d + 8 * i, s + 8 * i * ss, 8);
    } else {
      for (int64_t i = 0; i < n; ++i) std::memcpy(d + size * i, s + size * i * ss, size);
    }
  });
}

}  // namespace cxr::cpu
