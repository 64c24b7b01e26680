// reduce.cu — sum, max/min, argmax/argmin, logsumexp, var and softmax/log_softmax on CUDA tensors,
// the contracts of tensor/kernels/reduce.h (out holds the keepdim shape; x any strides). Each is an
// Op on the reduction engine of reduce.cuh: one fixed-order tree per output, long reductions into
// few outputs split into a fixed number of parts folded by a second pass, so results are
// bit-reproducible and independent of the device. Same accumulators as the reference kernels
// (ops/reduce.cpp): double for float32 sums/means/variances, int64 for int64 sums, exact T for
// max/min; only the order of the additions differs from the CPU's row-major one.
// The exception: float32 softmax/log_softmax along a contiguous last dim runs the softmax ladder
// (cuda/kernels/softmax/) in float32 math, a few float32 roundings from the reference.
//
// Cost (n input elements of b bytes, m outputs; on an H100, 3.35 TB/s and 67 TFLOP/s FP32 or
// 34 TFLOP/s FP64): every kernel is memory-bound.
//   sum, max/min, argmax/argmin: one read, n b + m b bytes, n adds (FP64 for float32 sums):
//     300 000 float32 summed: 1.2 MB, >= 0.36 us (then ~2 launches of latency dominate).
//   logsumexp, var: two reads (max then exp-sum; mean then squared deviations), 2 n b bytes, n exp
//     or 2 n flops in FP64: 1M float32, 8 MB, >= 2.4 us (FP64 exp: ~20 flops, 1M -> >= 0.6 us).
//   softmax/log_softmax: three reads of each line (max, exp-sum, write; the 2nd and 3rd from cache
//     for short lines) and one write, 2 n b bytes from HBM at best, 2 exp per element in FP64:
//     a (4096, 1000) float32 softmax, 33 MB, >= 9.8 us.
#include "cuda/device_math.cuh"
#include "cuda/kernels.h"
#include "cuda/kernels/softmax/softmax.h"
#include "cuda/reduce.cuh"

namespace cxr::cuda {
namespace {

// The lowest and highest value of T (infinities for floating T).
template <typename T>
__host__ __device__ constexpr T lowest_value() {
  if constexpr (std::is_floating_point_v<T>) return -Limits<T>::infinity();
  else return Limits<T>::lowest();
}
template <typename T>
__host__ __device__ constexpr T highest_value() {
  if constexpr (std::is_floating_point_v<T>) return Limits<T>::infinity();
  else return Limits<T>::max();
}

// max/min, exact in T; a NaN wins and stays (as the reference: NaN propagates).
template <typename T>
struct ExtremumOp {
  using Acc = T;
  bool is_max;
  const T* x;
  T* out;
  __device__ Acc identity() const { return is_max ? lowest_value<T>() : highest_value<T>(); }
  __device__ Acc combine(Acc a, Acc b) const {
    if (dm::is_nan(a)) return a;
    if (dm::is_nan(b)) return b;
    return (is_max ? b > a : b < a) ? b : a;
  }
  __device__ Acc load(const int64_t (&off)[1], int64_t, int64_t) const { return x[off[0]]; }
  __device__ void write(int64_t o, Acc a) const { out[o] = a; }
};

// argmax/argmin: the best (value, index); ties and NaNs go to the smaller index, a NaN beats any
// number. The combine is associative and commutative, so the tree gives the reference's answer
// (the first index of the extreme, the first NaN) exactly.
template <typename T>
struct ArgBest {
  T value;
  int64_t index;  // < 0: no element yet
};
template <typename T>
struct ArgExtremumOp {
  using Acc = ArgBest<T>;
  bool is_max;
  const T* x;
  int64_t* out;
  __device__ Acc identity() const { return {T(0), -1}; }
  __device__ Acc combine(Acc a, Acc b) const {
    if (a.index < 0) return b;
    if (b.index < 0) return a;
    const bool a_nan = dm::is_nan(a.value), b_nan = dm::is_nan(b.value);
    const Acc& first = a.index < b.index ? a : b;
    if (a_nan || b_nan) return a_nan && b_nan ? first : a_nan ? a : b;
    if (a.value == b.value) return first;
    return (is_max ? b.value > a.value : b.value < a.value) ? b : a;
  }
  __device__ Acc load(const int64_t (&off)[1], int64_t, int64_t r) const { return {x[off[0]], r}; }
  __device__ void write(int64_t o, Acc a) const { out[o] = a.index; }
};

// The reference's std::max order: m = m < v ? v : m (a NaN v is passed over).
template <typename T>
__device__ __forceinline__ T max_skipping_nan(T m, T v) {
  return m < v ? v : m;
}

// logsumexp, pass 1: m[o] = max x in double, an infinite max replaced by 0 (as the reference).
template <typename T>
struct ShiftOp {
  using Acc = double;
  const T* x;
  double* shift;
  __device__ Acc identity() const { return -Limits<double>::infinity(); }
  __device__ Acc combine(Acc a, Acc b) const { return max_skipping_nan(a, b); }
  __device__ Acc load(const int64_t (&off)[1], int64_t, int64_t) const { return double(x[off[0]]); }
  __device__ void write(int64_t o, Acc a) const {
    shift[o] = a == Limits<double>::infinity() || a == -Limits<double>::infinity() ? 0.0 : a;
  }
};

// logsumexp, pass 2: out = m + log sum exp(x - m).
template <typename T>
struct ExpSumOp {
  using Acc = double;
  const T* x;
  const double* shift;
  T* out;
  __device__ Acc identity() const { return 0.0; }
  __device__ Acc combine(Acc a, Acc b) const { return a + b; }
  __device__ Acc load(const int64_t (&off)[1], int64_t o, int64_t) const { return dm::exp(double(x[off[0]]) - shift[o]); }
  __device__ void write(int64_t o, Acc a) const { out[o] = T(shift[o] + dm::log(a)); }
};

// var's last step: out = ss / max(0, N - correction).
template <typename T>
struct VarianceFinish {
  T* out;
  double divisor;
  __device__ void operator()(int64_t o, double, double ss) const { out[o] = T(ss / divisor); }
};

// The geometry of x -> out (keepdim), one operand (x); out must be contiguous (the contract).
ReduceGeometry<1> geometry_of(const char* op, const Tensor& x, const Tensor& out) {
  CXR_CHECK(out.is_contiguous(), op, ": the output must be contiguous");
  return reduce_geometry<1>(op, x.shape(), out.shape(), {x.strides()});
}

// ---- softmax / log_softmax: a group of G threads per line along dim, three passes ----
// m = max (in T, the reference's std::max), s = sum exp(double(x - m)), then
// y = exp(double(x - m)) / s or y = double(x - m) - log s, exactly the reference's expressions.
template <int G, typename T>
__global__ void __launch_bounds__(kBlock) softmax_lines_kernel(ReduceGeometry<2> g, const T* x, T* out, bool log) {
  constexpr int kGroups = kBlock / G;
  const int lane = int(threadIdx.x) % G;
  for (int64_t first = int64_t(blockIdx.x) * kGroups; first < g.outputs; first += int64_t(gridDim.x) * kGroups) {
    const int64_t line = first + int64_t(threadIdx.x) / G;
    const bool active = line < g.outputs;
    int64_t base[2] = {0, 0};
    if (active) offsets_of(g.kept, line, base);
    T m = -Limits<T>::infinity();
    if (active)
      for (int64_t i = lane; i < g.count; i += G) {
        int64_t off[2];
        offsets_of(g.reduced, i, off);
        m = max_skipping_nan(m, x[base[0] + off[0]]);
      }
    m = group_reduce<G>(m, [](T a, T b) { return max_skipping_nan(a, b); });
    double s = 0;
    if (active)
      for (int64_t i = lane; i < g.count; i += G) {
        int64_t off[2];
        offsets_of(g.reduced, i, off);
        s += dm::exp(double(T(x[base[0] + off[0]] - m)));
      }
    s = group_reduce<G>(s, [](double a, double b) { return a + b; });
    if (active) {
      const double log_s = dm::log(s);
      for (int64_t i = lane; i < g.count; i += G) {
        int64_t off[2];
        offsets_of(g.reduced, i, off);
        const double shifted = double(T(x[base[0] + off[0]] - m));
        out[base[1] + off[1]] = log ? T(shifted - log_s) : T(dm::exp(shifted) / s);
      }
    }
  }
}

}  // namespace

void sum(const Tensor& x, const Tensor& out) {
  const ReduceGeometry<1> g = geometry_of("sum", x, out);
  visit_numeric(x.dtype(), "sum", [&]<typename T>() {
    run_reduction("sum", g, SumOp<T>{device_data<T>(x), device_data<T>(out)});
  });
}

void extremum(bool is_max, const Tensor& x, const Tensor& out) {
  const char* op = is_max ? "max" : "min";
  const ReduceGeometry<1> g = geometry_of(op, x, out);
  CXR_CHECK(g.outputs == 0 || g.count > 0, op, ": cannot reduce over an empty dim of shape ", shape_str(x.shape()));
  visit_numeric(x.dtype(), op, [&]<typename T>() {
    run_reduction(op, g, ExtremumOp<T>{is_max, device_data<T>(x), device_data<T>(out)});
  });
}

void arg_extremum(bool is_max, const Tensor& x, int64_t dim, const Tensor& out) {
  const char* op = is_max ? "argmax" : "argmin";
  CXR_CHECK(dim >= 0 && dim < x.dim() && out.shape()[size_t(dim)] == 1, op, ": bad dim ", dim, " for shape ",
            shape_str(x.shape()));
  const ReduceGeometry<1> g = geometry_of(op, x, out);
  CXR_CHECK(g.outputs == 0 || g.count > 0, op, ": cannot reduce over an empty dim of shape ", shape_str(x.shape()));
  visit_numeric(x.dtype(), op, [&]<typename T>() {
    run_reduction(op, g, ArgExtremumOp<T>{is_max, device_data<T>(x), device_data<int64_t>(out)});
  });
}

void logsumexp(const Tensor& x, const Tensor& out) {
  const ReduceGeometry<1> g = geometry_of("logsumexp", x, out);
  if (g.outputs == 0) return;
  const Tensor shift = device_doubles(g.outputs);
  visit_floating(x.dtype(), "logsumexp", [&]<typename T>() {
    const T* px = device_data<T>(x);
    run_reduction("logsumexp", g, ShiftOp<T>{px, shift.data<double>()});
    run_reduction("logsumexp", g, ExpSumOp<T>{px, shift.data<double>(), device_data<T>(out)});
  });
}

void var(const Tensor& x, const Tensor& out, int64_t correction) {
  const ReduceGeometry<1> g = geometry_of("var", x, out);
  if (g.outputs == 0) return;
  const Tensor mean = device_doubles(g.outputs);
  const double divisor = std::max<double>(0, double(g.count - correction));
  visit_floating(x.dtype(), "var", [&]<typename T>() {
    mean_and_squared_deviations("var", g, device_data<T>(x), mean.data<double>(),
                                VarianceFinish<T>{device_data<T>(out), divisor});
  });
}

// float32 along a contiguous last dim (the attention's and the losses' case) runs the kernel
// study's softmax ladder (cuda/kernels/softmax/, docs/KERNELS.md: its best, or
// CXR_CUDA_VERSION_SOFTMAX), in float32 math; everything else the general kernel above, in double.
void softmax(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  const char* op = log ? "log_softmax" : "softmax";
  if (x.dtype() == DType::Float32 && x.dim() > 0 && dim == x.dim() - 1 && x.is_contiguous() && out.is_contiguous() &&
      x.numel() / std::max<int64_t>(x.size(dim), 1) <= INT32_MAX) {
    SoftmaxArgs a;
    a.cols = x.size(dim);
    a.rows = a.cols == 0 ? 0 : x.numel() / a.cols;
    a.x = device_data<float>(x);
    a.out = device_data<float>(out);
    a.log = log;
    return softmax_rows(selected_version(softmax_ladder()), a);
  }
  Shape lines = x.shape();
  if (x.dim() > 0) {
    CXR_CHECK(dim >= 0 && dim < x.dim(), op, ": bad dim ", dim, " for shape ", shape_str(x.shape()));
    lines[size_t(dim)] = 1;
  }
  const ReduceGeometry<2> g = reduce_geometry<2>(op, x.shape(), lines, {x.strides(), out.strides()}, false);
  if (g.outputs == 0 || g.count == 0) return;
  visit_floating(x.dtype(), op, [&]<typename T>() {
    const T* px = device_data<T>(x);
    T* po = device_data<T>(out);
    const unsigned blocks = blocks_for(g.outputs, kBlock / g.group);
    switch (g.group) {
      case 1: launch(op, softmax_lines_kernel<1, T>, blocks, kBlock, g, px, po, log); break;
      case 32: launch(op, softmax_lines_kernel<32, T>, blocks, kBlock, g, px, po, log); break;
      default: launch(op, softmax_lines_kernel<kBlock, T>, blocks, kBlock, g, px, po, log); break;
    }
  });
}

}  // namespace cxr::cuda
