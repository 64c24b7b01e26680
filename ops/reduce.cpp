// reduce.cpp — reductions over a set of dims (sum, mean, max/min, logsumexp, var), argmax/argmin
// along one dim, and the dim-wise normalizers softmax / log_softmax.
// Convention: the kernels write the "keepdim" shape (reduced dims = 1); the op squeezes them after
// when keepdim is false. Accumulation is in double (int64 for int64) in row-major input order, so
// results do not depend on threading. Each op's derivative is in the comment above its backward;
// softmax's Jacobian is diag(y) - y y^T, so vector-Jacobian products need one sum along dim.
#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

// x's shape with `dims` set to 1.
// A 0-dim tensor accepts dim 0 / -1 (as PyTorch) but has no size to set: it stays 0-dim.
static Shape keepdim_shape(const Shape& shape, const Dims& dims) {
  Shape s = shape;
  for (int64_t d : dims)
    if (d < static_cast<int64_t>(s.size())) s[d] = 1;
  return s;
}

// x's shape with `dims` removed.
static Shape reduced_shape(const Shape& shape, const Dims& dims) {
  Shape s;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) s.push_back(shape[i]);
  return s;
}

// Broadcasts a reduced gradient back over the reduced dims: (keepdim shape) -> input shape.
static Tensor expand_reduced(const Tensor& g, const Shape& keep_shape, const Shape& input_shape) {
  return g.reshape(keep_shape).expand(input_shape);
}

// sum: y = sum_{reduced dims} x        gx = g broadcast back over the reduced dims
struct SumBackward final : Node {
  Shape input_shape, keep_shape;
  SumBackward(Shape in, Shape keep) : input_shape(std::move(in)), keep_shape(std::move(keep)) {}
  const char* name() const override { return "sum_backward"; }
  TensorList backward(const Tensor& g) override { return {expand_reduced(g, keep_shape, input_shape)}; }
};

Tensor sum(const Tensor& x, const Dims& dims_in, bool keepdim) {
  const OpScope op_scope("sum");
  Dims dims = wrap_dims(dims_in, x.dim(), "sum");
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out = empty(keep, x.options());
  sum_kernel(x.device())(x, out);
  if (!keepdim) out = out.view(reduced_shape(x.shape(), dims));
  record_op<SumBackward>(out, {x}, {}, x.shape(), keep);
  return out;
}

// mean: y = sum(x) / n, n = number of reduced elements     gx = g / n broadcast back
struct MeanBackward final : Node {
  Shape input_shape, keep_shape;
  double count;
  MeanBackward(Shape in, Shape keep, double n) : input_shape(std::move(in)), keep_shape(std::move(keep)), count(n) {}
  const char* name() const override { return "mean_backward"; }
  TensorList backward(const Tensor& g) override {
    return {expand_reduced(g / count, keep_shape, input_shape)};
  }
};

Tensor mean(const Tensor& x, const Dims& dims_in, bool keepdim) {
  const OpScope op_scope("mean");
  CXR_CHECK(is_floating(x.dtype()), "mean: needs a floating tensor, got ", dtype_name(x.dtype()));
  Dims dims = wrap_dims(dims_in, x.dim(), "mean");
  Shape keep = keepdim_shape(x.shape(), dims);
  double count = double(x.numel()) / double(std::max<int64_t>(shape_numel(keep), 1));
  if (x.numel() == 0) count = 0;
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sum(x, dims, keepdim) / count;
  }
  record_op<MeanBackward>(out, {x}, {}, x.shape(), keep, count);
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  const OpScope op_scope("sum_to");
  if (x.shape() == shape) return x;
  CXR_CHECK(x.dim() >= static_cast<int64_t>(shape.size()), "sum_to: cannot reduce shape ", shape_str(x.shape()),
            " to ", shape_str(shape));
  size_t lead = x.dim() - shape.size();
  Dims dims;
  for (size_t i = 0; i < static_cast<size_t>(x.dim()); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else {
      int64_t want = shape[i - lead];
      CXR_CHECK(want == x.shape()[i] || want == 1, "sum_to: shape ", shape_str(shape),
                " does not broadcast to ", shape_str(x.shape()));
      if (want == 1 && x.shape()[i] != 1) dims.push_back(i);
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

// Reducing over an empty dim has no defined max/min/argmax (PyTorch refuses too).
static void check_nonempty(const Tensor& x, const Dims& dims, const char* op) {
  for (int64_t d : dims)
    CXR_CHECK(d >= x.dim() || x.shape()[d] != 0, op, ": cannot reduce over dim ", d, " of size 0 in shape ",
              shape_str(x.shape()), " (the ", op, " of no elements is undefined)");
}

static void check_floating(const Tensor& x, const char* op) {
  CXR_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor (float32 or float64), got ",
            dtype_name(x.dtype()), " ", shape_str(x.shape()), " (convert with .to(DType::Float32))");
}

// Number of elements that each output element of a reduction over `dims` combines.
static int64_t reduced_count(const Shape& shape, const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (d < static_cast<int64_t>(shape.size())) n *= shape[d];
  return n;
}

// ---- max / min (torch.amax / amin) ----
// y = max_{reduced dims} x          gx = g * [x == y] / #{x == y}
// At a tie the function has a kink; splitting g evenly among the tied maxima is a subgradient and
// is what torch.amax does. A NaN in the window makes y NaN and (0/0) its window's gradient NaN.
struct ExtremumReduceBackward final : Node {
  bool is_max;
  Dims dims;
  Shape keep_shape;
  ExtremumReduceBackward(bool m, Dims d, Shape keep) : is_max(m), dims(std::move(d)), keep_shape(std::move(keep)) {}
  const char* name() const override { return is_max ? "max_backward" : "min_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &x = saved(0), &y_keep = saved(1);
    Tensor hit = eq(x, y_keep).to(g.dtype());
    Tensor count = sum(hit, dims, true);
    return {hit * expand_reduced(g, keep_shape, x.shape()) / count};
  }
};

static Tensor extremum_reduce(bool is_max, const Tensor& x, const Dims& dims_in, bool keepdim) {
  const OpScope op_scope("max/min");
  const char* op = is_max ? "max" : "min";
  Dims dims = wrap_dims(dims_in, x.dim(), op);
  check_nonempty(x, dims, op);
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out_keep = empty(keep, x.options());
  extremum_kernel(x.device())(is_max, x, out_keep);
  Tensor out = keepdim ? out_keep : out_keep.view(reduced_shape(x.shape(), dims));
  record_op<ExtremumReduceBackward>(out, {x}, {x, out_keep}, is_max, dims, keep);
  return out;
}

Tensor max(const Tensor& x, const Dims& dims, bool keepdim) { return extremum_reduce(true, x, dims, keepdim); }
Tensor min(const Tensor& x, const Dims& dims, bool keepdim) { return extremum_reduce(false, x, dims, keepdim); }

// ---- argmax / argmin: integer output, not differentiable (nothing is recorded) ----
static Tensor arg_extremum(bool is_max, const Tensor& x, int64_t dim_in, bool keepdim) {
  const OpScope op_scope("argmax/argmin");
  const char* op = is_max ? "argmax" : "argmin";
  int64_t dim = wrap_dim(dim_in, x.dim(), op);
  // A 0-dim tensor is a line of one element along its only (virtual) dim.
  Tensor xv = x.dim() == 0 ? x.detach().reshape({1}) : x.detach();
  check_nonempty(xv, {dim}, op);
  Shape keep = xv.shape();
  keep[dim] = 1;
  Tensor out = empty(keep, {DType::Int64, x.device()});
  arg_extremum_kernel(x.device())(is_max, xv, dim, out);
  if (x.dim() == 0) return out.view({});
  return keepdim ? out : out.squeeze(dim);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum(true, x, dim, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_extremum(false, x, dim, keepdim); }

// ---- logsumexp ----
// y = m + log sum exp(x - m), m = max x over the dims: the shift cancels exactly and keeps every
// exp() <= 1, so large x cannot overflow.
//   dy/dx_i = exp(x_i) / sum_j exp(x_j) = exp(x_i - y)       gx = g * exp(x - y) = g * softmax(x)
struct LogsumexpBackward final : Node {
  Shape keep_shape;
  explicit LogsumexpBackward(Shape keep) : keep_shape(std::move(keep)) {}
  const char* name() const override { return "logsumexp_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &x = saved(0), &y_keep = saved(1);
    return {expand_reduced(g, keep_shape, x.shape()) * exp(x - y_keep)};
  }
};

Tensor logsumexp(const Tensor& x, const Dims& dims_in, bool keepdim) {
  const OpScope op_scope("logsumexp");
  check_floating(x, "logsumexp");
  Dims dims = wrap_dims(dims_in, x.dim(), "logsumexp");
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out_keep = empty(keep, x.options());
  logsumexp_kernel(x.device())(x, out_keep);
  Tensor out = keepdim ? out_keep : out_keep.view(reduced_shape(x.shape(), dims));
  record_op<LogsumexpBackward>(out, {x}, {x, out_keep}, keep);
  return out;
}

// ---- var ----
// y = sum (x - mean)^2 / (N - correction), N the number of reduced elements (divisor clamped at 0,
// so N <= correction gives inf or NaN, as PyTorch).
//   dy/dx_i = 2 (x_i - mean) / (N - correction)   (the terms through mean sum to zero)
//   gx = 2 (x - mean) / (N - correction) * g
struct VarBackward final : Node {
  Dims dims;
  Shape keep_shape;
  double divisor;
  VarBackward(Dims d, Shape keep, double div) : dims(std::move(d)), keep_shape(std::move(keep)), divisor(div) {}
  const char* name() const override { return "var_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& x = saved(0);
    Tensor centered = x - mean(x, dims, true);
    return {centered * (2.0 / divisor) * expand_reduced(g, keep_shape, x.shape())};
  }
};

Tensor var(const Tensor& x, const Dims& dims_in, int64_t correction, bool keepdim) {
  const OpScope op_scope("var");
  check_floating(x, "var");
  Dims dims = wrap_dims(dims_in, x.dim(), "var");
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out_keep = empty(keep, x.options());
  var_kernel(x.device())(x, out_keep, correction);
  Tensor out = keepdim ? out_keep : out_keep.view(reduced_shape(x.shape(), dims));
  double divisor = std::max<double>(0, double(reduced_count(x.shape(), dims) - correction));
  record_op<VarBackward>(out, {x}, {x}, dims, keep, divisor);
  return out;
}

// ---- softmax / log_softmax along dim ----
// softmax:     y_i = exp(x_i - m) / sum_j exp(x_j - m), m = max_j x_j (the shift cancels exactly)
//   dy_i/dx_k = y_i ([i = k] - y_k)               gx = y * (g - sum(g * y, dim))
// log_softmax: y_i = x_i - m - log sum_j exp(x_j - m)
//   dy_i/dx_k = [i = k] - softmax_k = [i = k] - exp(y_k)     gx = g - exp(y) * sum(g, dim)
Tensor softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim) {
  const OpScope op_scope("softmax_backward");
  return y * (grad_out - sum(grad_out * y, {dim}, true));
}
Tensor log_softmax_backward(const Tensor& grad_out, const Tensor& y, int64_t dim) {
  const OpScope op_scope("log_softmax_backward");
  return grad_out - exp(y) * sum(grad_out, {dim}, true);
}

struct SoftmaxBackward final : Node {
  int64_t dim;
  explicit SoftmaxBackward(int64_t d) : dim(d) {}
  const char* name() const override { return "softmax_backward"; }
  TensorList backward(const Tensor& g) override { return {softmax_backward(g, saved(0), dim)}; }
};
struct LogSoftmaxBackward final : Node {
  int64_t dim;
  explicit LogSoftmaxBackward(int64_t d) : dim(d) {}
  const char* name() const override { return "log_softmax_backward"; }
  TensorList backward(const Tensor& g) override { return {log_softmax_backward(g, saved(0), dim)}; }
};

Tensor softmax(const Tensor& x, int64_t dim_in) {
  const OpScope op_scope("softmax");
  check_floating(x, "softmax");
  int64_t dim = wrap_dim(dim_in, x.dim(), "softmax");
  Tensor out = empty(x.shape(), x.options());
  softmax_kernel(x.device())(x, dim, false, out);
  record_op<SoftmaxBackward>(out, {x}, {out}, dim);
  return out;
}

Tensor log_softmax(const Tensor& x, int64_t dim_in) {
  const OpScope op_scope("log_softmax");
  check_floating(x, "log_softmax");
  int64_t dim = wrap_dim(dim_in, x.dim(), "log_softmax");
  Tensor out = empty(x.shape(), x.options());
  softmax_kernel(x.device())(x, dim, true, out);
  record_op<LogSoftmaxBackward>(out, {x}, {out}, dim);
  return out;
}

// ======================= reference CPU kernels =======================
// The reduce kernels share one layout: an accumulator vector with one slot per output element
// (row-major over the keepdim shape). Walking x in row-major order, its index maps to a slot
// through slot strides that are 0 along the reduced dims, so every loop body is one line.

static Strides slot_strides(const Shape& keep_shape) {
  Strides s = contiguous_strides(keep_shape);
  for (size_t d = 0; d < keep_shape.size(); ++d)
    if (keep_shape[d] == 1) s[d] = 0;
  return s;
}

// out[slot i] = value(i), through out's strides.
template <typename T, typename Value>
static void write_slots(const Tensor& out, Value value) {
  T* po = out.data<T>();
  int64_t i = 0;
  for_each_offset<1>(out.shape(), {out.strides()}, [&](const Offsets<1>& o) { po[o[0]] = value(i++); });
}

template <typename T>
static bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}

// sum: acc[slot] += x
static void sum_cpu(const Tensor& x, const Tensor& out) {
  visit_numeric(x.dtype(), "sum", [&]<typename T>() {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    std::vector<Acc> acc(out.numel(), Acc(0));
    const T* px = x.data<T>();
    for_each_offset<2>(x.shape(), {x.strides(), slot_strides(out.shape())},
                       [&](const Offsets<2>& o) { acc[o[1]] += Acc(px[o[0]]); });
    write_slots<T>(out, [&](int64_t i) { return T(acc[i]); });
  });
}

// max/min: acc[slot] = better(x, acc) ? x : acc, starting from -inf (+inf); exact in T.
// A NaN always wins and then stays (NaN compares false with everything).
template <typename T, typename Better>
static void extremum_loop(const Tensor& x, const Tensor& out, T init, Better better) {
  std::vector<T> acc(out.numel(), init);
  const T* px = x.data<T>();
  for_each_offset<2>(x.shape(), {x.strides(), slot_strides(out.shape())}, [&](const Offsets<2>& o) {
    if (better(px[o[0]], acc[o[1]])) acc[o[1]] = px[o[0]];
  });
  write_slots<T>(out, [&](int64_t i) { return acc[i]; });
}

static void extremum_cpu(bool is_max, const Tensor& x, const Tensor& out) {
  visit_numeric(x.dtype(), is_max ? "max" : "min", [&]<typename T>() {
    using L = std::numeric_limits<T>;
    T lowest = L::has_infinity ? -L::infinity() : L::lowest();
    T highest = L::has_infinity ? L::infinity() : L::max();
    if (is_max) extremum_loop<T>(x, out, lowest, [](T v, T acc) { return v > acc || is_nan(v); });
    else extremum_loop<T>(x, out, highest, [](T v, T acc) { return v < acc || is_nan(v); });
  });
}

// argmax/argmin: for each line of x along dim, the first index whose value beats all before it
// (strictly, so ties keep the first); the first NaN ends the search (NaN is the extreme).
template <typename T, typename Better>
static void arg_extremum_loop(const Tensor& x, int64_t dim, const Tensor& out, Better better) {
  const T* px = x.data<T>();
  int64_t* po = out.data<int64_t>();
  const int64_t n = x.shape()[dim], step = x.strides()[dim];
  for_each_offset<2>(out.shape(), {x.strides(), out.strides()}, [&](const Offsets<2>& o) {
    const T* line = px + o[0];
    int64_t best = 0;
    T best_value = line[0];
    for (int64_t i = 1; i < n && !is_nan(best_value); ++i) {
      T v = line[i * step];
      if (better(v, best_value)) best = i, best_value = v;
    }
    po[o[1]] = best;
  });
}

static void arg_extremum_cpu(bool is_max, const Tensor& x, int64_t dim, const Tensor& out) {
  visit_numeric(x.dtype(), is_max ? "argmax" : "argmin", [&]<typename T>() {
    if (is_max) arg_extremum_loop<T>(x, dim, out, [](T v, T best) { return v > best || is_nan(v); });
    else arg_extremum_loop<T>(x, dim, out, [](T v, T best) { return v < best || is_nan(v); });
  });
}

// logsumexp: pass 1 m[slot] = max x; pass 2 s[slot] += exp(x - m); out = m + log s.
// An infinite max is replaced by 0 (as PyTorch): all -inf gives log 0 = -inf, a +inf gives +inf.
static void logsumexp_cpu(const Tensor& x, const Tensor& out) {
  visit_floating(x.dtype(), "logsumexp", [&]<typename T>() {
    const T* px = x.data<T>();
    const Strides slots = slot_strides(out.shape());
    std::vector<double> m(out.numel(), -INFINITY), s(out.numel(), 0.0);
    for_each_offset<2>(x.shape(), {x.strides(), slots},
                       [&](const Offsets<2>& o) { m[o[1]] = std::max(m[o[1]], double(px[o[0]])); });
    for (double& v : m)
      if (std::isinf(v)) v = 0;
    for_each_offset<2>(x.shape(), {x.strides(), slots},
                       [&](const Offsets<2>& o) { s[o[1]] += std::exp(double(px[o[0]]) - m[o[1]]); });
    write_slots<T>(out, [&](int64_t i) { return T(m[i] + std::log(s[i])); });
  });
}

// var: pass 1 mean[slot] = sum x / N; pass 2 ss[slot] += (x - mean)^2; out = ss / max(0, N - c).
// Two passes instead of sum(x^2) - N mean^2, which cancels catastrophically when |mean| >> std.
static void var_cpu(const Tensor& x, const Tensor& out, int64_t correction) {
  visit_floating(x.dtype(), "var", [&]<typename T>() {
    const T* px = x.data<T>();
    const Strides slots = slot_strides(out.shape());
    const int64_t n = out.numel() == 0 ? 0 : x.numel() / out.numel();
    std::vector<double> mean(out.numel(), 0.0), ss(out.numel(), 0.0);
    for_each_offset<2>(x.shape(), {x.strides(), slots}, [&](const Offsets<2>& o) { mean[o[1]] += double(px[o[0]]); });
    for (double& v : mean) v /= double(n);
    for_each_offset<2>(x.shape(), {x.strides(), slots}, [&](const Offsets<2>& o) {
      double d = double(px[o[0]]) - mean[o[1]];
      ss[o[1]] += d * d;
    });
    const double divisor = std::max<double>(0, double(n - correction));
    write_slots<T>(out, [&](int64_t i) { return T(ss[i] / divisor); });
  });
}

// softmax/log_softmax: per line along dim, three passes: m = max, s = sum exp(x - m) (double),
// then y = exp(x - m) / s or y = (x - m) - log s. A 0-dim tensor is a line of one element.
static void softmax_cpu(const Tensor& x, int64_t dim, bool log, const Tensor& out) {
  visit_floating(x.dtype(), log ? "log_softmax" : "softmax", [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    Shape lines = x.shape();
    int64_t n = 1, sx = 0, so = 0;
    if (x.dim() > 0) {
      n = lines[dim], sx = x.strides()[dim], so = out.strides()[dim];
      lines[dim] = 1;
    }
    for_each_offset<2>(lines, {x.strides(), out.strides()}, [&](const Offsets<2>& o) {
      const T* xl = px + o[0];
      T* ol = po + o[1];
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t i = 0; i < n; ++i) m = std::max(m, xl[i * sx]);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::exp(double(xl[i * sx] - m));
      if (log) {
        const double log_s = std::log(s);
        for (int64_t i = 0; i < n; ++i) ol[i * so] = T(double(xl[i * sx] - m) - log_s);
      } else {
        for (int64_t i = 0; i < n; ++i) ol[i * so] = T(std::exp(double(xl[i * sx] - m)) / s);
      }
    });
  });
}

KernelTable<SumFn> sum_kernel{"sum", {
    .cpu_reference = sum_cpu,
    .cpu_fast = cpu::sum_fast,
    .cuda = CXR_CUDA_KERNEL(sum),
}};
KernelTable<ExtremumFn> extremum_kernel{"max/min", {
    .cpu_reference = extremum_cpu,
    .cuda = CXR_CUDA_KERNEL(extremum),
}};
KernelTable<ArgExtremumFn> arg_extremum_kernel{"argmax/argmin", {
    .cpu_reference = arg_extremum_cpu,
    .cuda = CXR_CUDA_KERNEL(arg_extremum),
}};
KernelTable<LogsumexpFn> logsumexp_kernel{"logsumexp", {
    .cpu_reference = logsumexp_cpu,
    .cuda = CXR_CUDA_KERNEL(logsumexp),
}};
KernelTable<VarFn> var_kernel{"var", {.cpu_reference = var_cpu, .cuda = CXR_CUDA_KERNEL(var)}};
KernelTable<SoftmaxFn> softmax_kernel{"softmax", {
    .cpu_reference = softmax_cpu,
    .cpu_fast = cpu::softmax_fast,
    .cuda = CXR_CUDA_KERNEL(softmax),
}};

}  // namespace cxr
