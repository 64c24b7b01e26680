// reduce.cpp — fast sum and softmax / log_softmax over contiguous float32/float64 tensors; other
// cases run the reference kernels (ops/reduce.cpp, same contracts).
//   sum: the reduced dims must form x = [R1][K][R2] (reduced, kept, reduced; any may be 1). Sums
//     accumulate in double lanes (vec.h) in an order fixed by the layout: a full reduction in
//     blocks of 64Ki elements combined in block order, an inner reduction per kept element, an
//     outer one as column sums; threads split blocks, kept elements or column ranges, never a sum.
//   softmax along the last dim: per row, the max, y = exp(x - max) (float: the polynomial exp of
//     vec_impl.h, within 2 ulp; double: std::exp) summed in double, then y / sum, or for
//     log_softmax (x - max) - log(sum). Rows spread over threads.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/vec.h"

namespace cxr::cpu {
namespace {
bool is_float(const Tensor& t) { return t.dtype() == DType::Float32 || t.dtype() == DType::Float64; }
double combine(const double* lanes) {
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += lanes[l];
  return s;
}
}  // namespace

void sum_fast(const Tensor& x, const Tensor& out) {
  // [R1][K][R2] from the keepdim output shape.
  int64_t R1 = 1, K = 1, R2 = 1;
  int phase = 0;  // 0: leading reduced, 1: kept, 2: trailing reduced
  bool ok = is_float(x) && x.is_contiguous() && out.is_contiguous() && x.numel() > 0;
  for (int64_t d = 0; ok && d < x.dim(); ++d) {
    const bool reduced = out.size(d) == 1 && x.size(d) != 1;
    if (x.size(d) == 1) continue;
    if (reduced) {
      if (phase == 1) phase = 2;
      (phase == 0 ? R1 : R2) *= x.size(d);
    } else {
      if (phase == 2) ok = false;
      phase = 1;
      K *= x.size(d);
    }
  }
  if (!ok) return sum_kernel.cpu_reference()(x, out);
  visit_floating(x.dtype(), "sum", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const T* px = x.data<T>();
    T* po = out.data<T>();
    if (K == 1) {  // everything: fixed blocks
      constexpr int64_t kBlock = 64 * 1024;
      const int64_t n = x.numel(), blocks = (n + kBlock - 1) / kBlock;
      std::vector<double> partial(size_t(blocks * kLanes), 0.0);
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b)
          ops.sum_lanes(px + b * kBlock, std::min(kBlock, n - b * kBlock), partial.data() + b * kLanes);
      });
      double total = 0;
      for (int64_t b = 0; b < blocks; ++b) total += combine(partial.data() + b * kLanes);
      po[0] = T(total);
    } else if (R2 > 1) {  // per kept element: its R1 runs of R2
      parallel_for(K, std::max<int64_t>(1, kElementwiseGrain / (R1 * R2)), [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          double lanes[kLanes] = {};
          for (int64_t r = 0; r < R1; ++r) ops.sum_lanes(px + (r * K + k) * R2, R2, lanes);
          po[k] = T(combine(lanes));
        }
      });
    } else {  // column sums of an R1 x K matrix
      parallel_for(K, std::max<int64_t>(256, kElementwiseGrain / R1), [&](int64_t k0, int64_t k1) {
        std::vector<double> acc(size_t(k1 - k0), 0.0);
        for (int64_t r = 0; r < R1; ++r) ops.accumulate(px + r * K + k0, acc.data(), k1 - k0);
        for (int64_t k = k0; k < k1; ++k) po[k] = T(acc[size_t(k - k0)]);
      });
    }
  });
}

void softmax_fast(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  if (!is_float(x) || x.dim() == 0 || dim != x.dim() - 1 || !x.is_contiguous() || !out.is_contiguous() ||
      x.numel() == 0) {
    return softmax_kernel.cpu_reference()(x, dim, log, out);
  }
  visit_floating(x.dtype(), log ? "log_softmax" : "softmax", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const int64_t n = x.size(-1), rows = x.numel() / n;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = px + r * n;
        T* yr = po + r * n;
        const T m = ops.row_max(xr, n);
        const double s = ops.exp_shifted(xr, yr, n, m);
        if (log)
          ops.shift2(xr, yr, n, m, T(std::log(s)));
        else
          ops.scale(yr, n, T(1.0 / s));
      }
    });
  });
}

}  // namespace cxr::cpu
