// norm.cpp — batch_norm, layer_norm and dropout: forward, named backward, reference CPU kernels.
//   batch_norm: x (N, C, *), statistics per channel over the M = N * prod(*) other elements.
//   layer_norm: x (*, normalized_shape), statistics per row over the D trailing elements.
//   dropout:    mask from the counter-based Philox generator, survivors scaled by 1/(1-p).
// The backward closed forms are derived in docs/NORMALIZATION.md. Statistics accumulate in double.
#include <cmath>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"
#include "tensor/random.h"
#include "tensor/strided_loop.h"

namespace cxr {

static void check_param(const Tensor& t, const Shape& expected, const Tensor& x, const char* op, const char* what) {
  if (!t.defined()) return;
  CXR_CHECK(t.shape() == expected, op, ": ", what, " must have shape ", shape_str(expected), " for input ",
            shape_str(x.shape()), ", got ", shape_str(t.shape()));
  CXR_CHECK(t.dtype() == x.dtype(), op, ": ", what, " is ", dtype_name(t.dtype()), " but the input is ",
            dtype_name(x.dtype()));
  CXR_CHECK(t.device() == x.device(), op, ": ", what, " is on ", device_name(t.device()), " but the input is on ",
            device_name(x.device()));
}

// ======================= batch_norm =======================
// Forward, per channel c over its M elements (training: batch statistics; eval: running ones):
//   mean = sum(x) / M,  var = sum((x - mean)^2) / M,  invstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) invstd,  y = w xhat + b
//   running_mean <- (1 - m) running_mean + m mean,  running_var <- (1 - m) running_var + m var M/(M-1)
// Backward (docs/NORMALIZATION.md §1):
//   training: gx = (w invstd / M) (M g - sum(g) - xhat sum(g xhat))
//   eval:     gx = g w invstd          (mean and invstd are constants)
//   gw = sum(g xhat), gb = sum(g)
// The running statistics are buffers, not inputs of the graph: they get no gradient.
struct BatchNormBackward final : Node {
  bool training;
  explicit BatchNormBackward(bool t) : training(t) {}
  const char* name() const override { return "batch_norm_backward"; }
  TensorList backward(const Tensor& g) override {
    std::array<bool, 3> mask = {next_edges[0].node != nullptr, next_edges[1].node != nullptr,
                                next_edges[2].node != nullptr};
    NormGrads r = batch_norm_backward(g, saved(0), saved(1), saved(2), saved(3), training, mask);
    return {r.x, r.weight, r.bias};
  }
};

NormGrads batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training, std::array<bool, 3> output_mask) {
  const OpScope op_scope("batch_norm_backward");
  CXR_CHECK(grad_out.shape() == x.shape() && grad_out.dtype() == x.dtype(), "batch_norm_backward: gradient ",
            dtype_name(grad_out.dtype()), " ", shape_str(grad_out.shape()), " does not match the input ",
            dtype_name(x.dtype()), " ", shape_str(x.shape()));
  const int64_t C = x.size(1);
  NormGrads r;
  if (output_mask[0]) r.x = empty(x.shape(), x.options());
  if (output_mask[1]) r.weight = empty({C}, x.options());
  if (output_mask[2]) r.bias = empty({C}, x.options());
  batch_norm_backward_kernel(x.device())(grad_out, x, weight, save_mean, save_invstd, training, r.x, r.weight,
                                         r.bias);
  return r;
}

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, bool training, double momentum, double eps) {
  const OpScope op_scope("batch_norm");
  CXR_CHECK(x.dim() >= 2, "batch_norm: expects an input of shape (N, C) or (N, C, *), got ", shape_str(x.shape()));
  CXR_CHECK(is_floating(x.dtype()), "batch_norm: expects a floating input, got ", dtype_name(x.dtype()));
  const int64_t C = x.size(1);
  check_param(weight, {C}, x, "batch_norm", "weight");
  check_param(bias, {C}, x, "batch_norm", "bias");
  check_param(running_mean, {C}, x, "batch_norm", "running_mean");
  check_param(running_var, {C}, x, "batch_norm", "running_var");
  CXR_CHECK(running_mean.defined() == running_var.defined(),
            "batch_norm: running_mean and running_var must be given together");
  CXR_CHECK(training || running_mean.defined(),
            "batch_norm: running_mean and running_var must be defined in evaluation mode");
  if (training) {
    const int64_t M = C > 0 ? x.numel() / C : 0;
    CXR_CHECK(M > 1, "batch_norm: expected more than 1 value per channel when training, got input shape ",
              shape_str(x.shape()));
  }
  Tensor out = empty(x.shape(), x.options());
  Tensor save_mean = empty({C}, x.options()), save_invstd = empty({C}, x.options());
  batch_norm_forward_kernel(x.device())(x, weight, bias, running_mean, running_var, training, momentum, eps, out,
                                        save_mean, save_invstd);
  record_op<BatchNormBackward>(out, {x, weight, bias}, {x, weight, save_mean, save_invstd}, training);
  return out;
}

// ======================= layer_norm =======================
// Forward, per row r of D = numel(normalized_shape) elements:
//   mean = sum(x) / D,  var = sum((x - mean)^2) / D,  rstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) rstd,  y = w xhat + b      (w, b of normalized_shape, shared by all rows)
// Backward (docs/NORMALIZATION.md §2), with gxh = g w:
//   gx = (rstd / D) (D gxh - sum_row(gxh) - xhat sum_row(gxh xhat))
//   gw = sum over rows of g xhat,  gb = sum over rows of g
struct LayerNormBackward final : Node {
  Shape normalized_shape;
  explicit LayerNormBackward(Shape s) : normalized_shape(std::move(s)) {}
  const char* name() const override { return "layer_norm_backward"; }
  TensorList backward(const Tensor& g) override {
    std::array<bool, 3> mask = {next_edges[0].node != nullptr, next_edges[1].node != nullptr,
                                next_edges[2].node != nullptr};
    NormGrads r = layer_norm_backward(g, saved(0), normalized_shape, saved(1), saved(2), saved(3), mask);
    return {r.x, r.weight, r.bias};
  }
};

NormGrads layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Shape& normalized_shape,
                              const Tensor& weight, const Tensor& save_mean, const Tensor& save_rstd,
                              std::array<bool, 3> output_mask) {
  const OpScope op_scope("layer_norm_backward");
  CXR_CHECK(grad_out.shape() == x.shape() && grad_out.dtype() == x.dtype(), "layer_norm_backward: gradient ",
            dtype_name(grad_out.dtype()), " ", shape_str(grad_out.shape()), " does not match the input ",
            dtype_name(x.dtype()), " ", shape_str(x.shape()));
  NormGrads r;
  if (output_mask[0]) r.x = empty(x.shape(), x.options());
  if (output_mask[1]) r.weight = empty(normalized_shape, x.options());
  if (output_mask[2]) r.bias = empty(normalized_shape, x.options());
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  layer_norm_backward_kernel(x.device())(grad_out, x, k, weight, save_mean, save_rstd, r.x, r.weight, r.bias);
  return r;
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  const OpScope op_scope("layer_norm");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  CXR_CHECK(k >= 1, "layer_norm: normalized_shape must have at least one dim, got []");
  CXR_CHECK(x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
            "layer_norm: normalized_shape ", shape_str(normalized_shape),
            " does not match the trailing dims of the input shape ", shape_str(x.shape()));
  CXR_CHECK(is_floating(x.dtype()), "layer_norm: expects a floating input, got ", dtype_name(x.dtype()));
  check_param(weight, normalized_shape, x, "layer_norm", "weight");
  check_param(bias, normalized_shape, x, "layer_norm", "bias");
  Shape lead(x.shape().begin(), x.shape().end() - k);
  Tensor out = empty(x.shape(), x.options());
  Tensor save_mean = empty(lead, x.options()), save_rstd = empty(lead, x.options());
  layer_norm_forward_kernel(x.device())(x, k, weight, bias, eps, out, save_mean, save_rstd);
  record_op<LayerNormBackward>(out, {x, weight, bias}, {x, weight, save_mean, save_rstd}, normalized_shape);
  return out;
}

// ======================= dropout =======================
// Training, 0 < p < 1:  y = x * mask_scaled,  mask_scaled = [u >= p] / (1 - p),  u ~ U[0, 1)
// so E[y] = x. Element i (row-major) uses the generator's counter first + i, where first is
// reserved from the generator (its offset advances by numel): the mask is a pure function of
// (seed, offset), whatever the thread count or device.
//   dropout_backward: gx = g * mask_scaled
// p = 1 gives zeros (mask_scaled = 0, no random numbers drawn); !training or p = 0 returns x.
struct DropoutBackward final : Node {
  const char* name() const override { return "dropout_backward"; }
  TensorList backward(const Tensor& g) override { return {dropout_backward(g, saved(0))}; }
};

Tensor dropout_backward(const Tensor& grad_out, const Tensor& mask_scaled) { return mul(grad_out, mask_scaled); }

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  const OpScope op_scope("dropout");
  CXR_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  CXR_CHECK(is_floating(x.dtype()), "dropout: expects a floating input, got ", dtype_name(x.dtype()));
  Tensor mask = empty(x.shape(), x.options());
  if (p == 1) {
    fill_(mask, 0.0);
  } else {
    Generator& g = gen ? *gen : default_generator();
    uint64_t first = g.reserve(static_cast<uint64_t>(x.numel()));
    dropout_mask_kernel(x.device())(mask, p, 1.0 / (1.0 - p), g.seed(), first);
  }
  Tensor out;
  {
    NoGradGuard no_grad;
    out = mul(x, mask);
  }
  record_op<DropoutBackward>(out, {x}, {mask});
  return out;
}

// ======================= reference CPU kernels =======================
// Every kernel walks x once per pass with for_each_offset, in row-major order. A second stride
// vector maps each element to its statistic's slot in a contiguous double array (e.g. stride 1
// along C and 0 elsewhere for batch norm), so "which channel/row am I in" is just an offset.

// Reads the values of t (any strides) in row-major order as doubles; an undefined t gives `fill`.
template <typename T>
static std::vector<double> read_values(const Tensor& t, int64_t n, double fill) {
  if (!t.defined()) return std::vector<double>(n, fill);
  std::vector<double> v;
  v.reserve(n);
  const T* p = t.data<T>();
  for_each_offset<1>(t.shape(), {t.strides()}, [&](const Offsets<1>& o) { v.push_back(double(p[o[0]])); });
  return v;
}

// Writes v into t (any strides) in row-major order; does nothing when t is undefined.
template <typename T>
static void write_values(const Tensor& t, const std::vector<double>& v) {
  if (!t.defined()) return;
  T* p = t.data<T>();
  size_t i = 0;
  for_each_offset<1>(t.shape(), {t.strides()}, [&](const Offsets<1>& o) { p[o[0]] = T(v[i++]); });
}

// Strides over x's shape that send every element of channel c to slot c.
static Strides per_channel_strides(const Tensor& x) {
  Strides s(x.dim(), 0);
  s[1] = 1;
  return s;
}

static void batch_norm_forward_cpu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var, bool training,
                                   double momentum, double eps, const Tensor& out, const Tensor& save_mean,
                                   const Tensor& save_invstd) {
  visit_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const int64_t C = x.size(1), M = C > 0 ? x.numel() / C : 0;
    const T* px = x.data<T>();
    const Strides chan = per_channel_strides(x);
    std::vector<double> mean(C, 0.0), invstd(C);
    if (training) {
      // Two passes (mean, then squared deviations): no cancellation as in E[x^2] - E[x]^2.
      std::vector<double> sq(C, 0.0);
      for_each_offset<2>(x.shape(), {x.strides(), chan}, [&](const Offsets<2>& o) { mean[o[1]] += px[o[0]]; });
      for (double& m : mean) m /= double(M);
      for_each_offset<2>(x.shape(), {x.strides(), chan}, [&](const Offsets<2>& o) {
        double d = double(px[o[0]]) - mean[o[1]];
        sq[o[1]] += d * d;
      });
      for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(sq[c] / double(M) + eps);
      if (running_mean.defined()) {
        // In place through the buffers' strides; not recorded by autograd.
        std::vector<double> rm = read_values<T>(running_mean, C, 0), rv = read_values<T>(running_var, C, 0);
        for (int64_t c = 0; c < C; ++c) {
          rm[c] = (1 - momentum) * rm[c] + momentum * mean[c];
          rv[c] = (1 - momentum) * rv[c] + momentum * sq[c] / double(M - 1);  // unbiased
        }
        write_values<T>(running_mean, rm);
        write_values<T>(running_var, rv);
      }
    } else {
      mean = read_values<T>(running_mean, C, 0);
      std::vector<double> var = read_values<T>(running_var, C, 1);
      for (int64_t c = 0; c < C; ++c) invstd[c] = 1.0 / std::sqrt(var[c] + eps);
    }
    write_values<T>(save_mean, mean);
    write_values<T>(save_invstd, invstd);
    const std::vector<double> w = read_values<T>(weight, C, 1), b = read_values<T>(bias, C, 0);
    T* po = out.data<T>();
    for_each_offset<3>(x.shape(), {out.strides(), x.strides(), chan}, [&](const Offsets<3>& o) {
      const int64_t c = o[2];
      po[o[0]] = T((double(px[o[1]]) - mean[c]) * invstd[c] * w[c] + b[c]);
    });
  });
}

static void batch_norm_backward_cpu(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                    const Tensor& save_mean, const Tensor& save_invstd, bool training,
                                    const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  visit_floating(x.dtype(), "batch_norm_backward", [&]<typename T>() {
    const int64_t C = x.size(1), M = C > 0 ? x.numel() / C : 0;
    const T* px = x.data<T>();
    const T* pg = grad_out.data<T>();
    const Strides chan = per_channel_strides(x);
    const std::vector<double> mean = read_values<T>(save_mean, C, 0), invstd = read_values<T>(save_invstd, C, 1);
    const std::vector<double> w = read_values<T>(weight, C, 1);
    // Per channel: sum(g) and sum(g xhat).
    std::vector<double> sum_g(C, 0.0), sum_gxhat(C, 0.0);
    if (training || grad_weight.defined() || grad_bias.defined()) {
      for_each_offset<3>(x.shape(), {grad_out.strides(), x.strides(), chan}, [&](const Offsets<3>& o) {
        const int64_t c = o[2];
        double g = pg[o[0]], xhat = (double(px[o[1]]) - mean[c]) * invstd[c];
        sum_g[c] += g;
        sum_gxhat[c] += g * xhat;
      });
    }
    write_values<T>(grad_weight, sum_gxhat);  // parameter gradients: fresh tensors; the engine accumulates
    write_values<T>(grad_bias, sum_g);
    if (!grad_x.defined()) return;
    T* pgx = grad_x.data<T>();
    for_each_offset<4>(x.shape(), {grad_x.strides(), grad_out.strides(), x.strides(), chan},
                       [&](const Offsets<4>& o) {
                         const int64_t c = o[3];
                         double g = pg[o[1]];
                         if (!training) {
                           pgx[o[0]] = T(g * w[c] * invstd[c]);
                           return;
                         }
                         double xhat = (double(px[o[2]]) - mean[c]) * invstd[c];
                         pgx[o[0]] = T(w[c] * invstd[c] * (g - sum_g[c] / double(M) - xhat * sum_gxhat[c] / double(M)));
                       });
  });
}

// Layer norm's two slot maps over x's shape (lead dims L, then k normalized dims):
//   row: the row-major index over the lead dims (0 along normalized dims)
//   col: the row-major index over the normalized dims (0 along lead dims)
struct RowCol {
  Strides row, col;
  int64_t rows = 1, cols = 1;
};
static RowCol row_col_strides(const Tensor& x, int64_t k) {
  const int64_t nd = x.dim(), lead = nd - k;
  RowCol rc;
  rc.row.assign(nd, 0);
  rc.col.assign(nd, 0);
  Strides lead_strides = contiguous_strides(Shape(x.shape().begin(), x.shape().begin() + lead));
  Strides norm_strides = contiguous_strides(Shape(x.shape().begin() + lead, x.shape().end()));
  for (int64_t d = 0; d < nd; ++d) {
    if (d < lead) rc.row[d] = lead_strides[d], rc.rows *= x.shape()[d];
    else rc.col[d] = norm_strides[d - lead], rc.cols *= x.shape()[d];
  }
  return rc;
}

static void layer_norm_forward_cpu(const Tensor& x, int64_t k, const Tensor& weight, const Tensor& bias, double eps,
                                   const Tensor& out, const Tensor& save_mean, const Tensor& save_rstd) {
  visit_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const RowCol rc = row_col_strides(x, k);
    const int64_t D = rc.cols;
    const T* px = x.data<T>();
    std::vector<double> mean(rc.rows, 0.0), sq(rc.rows, 0.0), rstd(rc.rows);
    for_each_offset<2>(x.shape(), {x.strides(), rc.row}, [&](const Offsets<2>& o) { mean[o[1]] += px[o[0]]; });
    for (double& m : mean) m /= double(D);
    for_each_offset<2>(x.shape(), {x.strides(), rc.row}, [&](const Offsets<2>& o) {
      double d = double(px[o[0]]) - mean[o[1]];
      sq[o[1]] += d * d;
    });
    for (int64_t r = 0; r < rc.rows; ++r) rstd[r] = 1.0 / std::sqrt(sq[r] / double(D) + eps);
    write_values<T>(save_mean, mean);
    write_values<T>(save_rstd, rstd);
    const std::vector<double> w = read_values<T>(weight, D, 1), b = read_values<T>(bias, D, 0);
    T* po = out.data<T>();
    for_each_offset<4>(x.shape(), {out.strides(), x.strides(), rc.row, rc.col}, [&](const Offsets<4>& o) {
      po[o[0]] = T((double(px[o[1]]) - mean[o[2]]) * rstd[o[2]] * w[o[3]] + b[o[3]]);
    });
  });
}

static void layer_norm_backward_cpu(const Tensor& grad_out, const Tensor& x, int64_t k, const Tensor& weight,
                                    const Tensor& save_mean, const Tensor& save_rstd, const Tensor& grad_x,
                                    const Tensor& grad_weight, const Tensor& grad_bias) {
  visit_floating(x.dtype(), "layer_norm_backward", [&]<typename T>() {
    const RowCol rc = row_col_strides(x, k);
    const int64_t D = rc.cols;
    const T* px = x.data<T>();
    const T* pg = grad_out.data<T>();
    const std::vector<double> mean = read_values<T>(save_mean, rc.rows, 0);
    const std::vector<double> rstd = read_values<T>(save_rstd, rc.rows, 1);
    const std::vector<double> w = read_values<T>(weight, D, 1);
    // Per row: sum(gxh), sum(gxh xhat) with gxh = g w. Per column: sum(g xhat), sum(g).
    std::vector<double> row_g(rc.rows, 0.0), row_gxhat(rc.rows, 0.0), col_gxhat(D, 0.0), col_g(D, 0.0);
    for_each_offset<4>(x.shape(), {grad_out.strides(), x.strides(), rc.row, rc.col}, [&](const Offsets<4>& o) {
      const int64_t r = o[2], c = o[3];
      double g = pg[o[0]], xhat = (double(px[o[1]]) - mean[r]) * rstd[r];
      row_g[r] += g * w[c];
      row_gxhat[r] += g * w[c] * xhat;
      col_gxhat[c] += g * xhat;
      col_g[c] += g;
    });
    write_values<T>(grad_weight, col_gxhat);  // parameter gradients: fresh tensors; the engine accumulates
    write_values<T>(grad_bias, col_g);
    if (!grad_x.defined()) return;
    T* pgx = grad_x.data<T>();
    for_each_offset<5>(x.shape(), {grad_x.strides(), grad_out.strides(), x.strides(), rc.row, rc.col},
                       [&](const Offsets<5>& o) {
                         const int64_t r = o[3], c = o[4];
                         double gxh = double(pg[o[1]]) * w[c], xhat = (double(px[o[2]]) - mean[r]) * rstd[r];
                         pgx[o[0]] = T(rstd[r] * (gxh - row_g[r] / double(D) - xhat * row_gxhat[r] / double(D)));
                       });
  });
}

static void dropout_mask_cpu(const Tensor& mask, double p, double scale, uint64_t seed, uint64_t first_counter) {
  visit_floating(mask.dtype(), "dropout", [&]<typename T>() {
    const Generator g(seed);
    T* pm = mask.data<T>();
    uint64_t i = 0;
    for_each_offset<1>(mask.shape(), {mask.strides()}, [&](const Offsets<1>& o) {
      pm[o[0]] = g.uniform(first_counter + i++) < p ? T(0) : T(scale);
    });
  });
}

KernelTable<BatchNormForwardFn> batch_norm_forward_kernel{"batch_norm_forward", {
    .cpu_reference = batch_norm_forward_cpu,
    .cpu_fast = cpu::batch_norm_forward_fast,
    .cuda = CXR_CUDA_KERNEL(batch_norm_forward),
}};
KernelTable<BatchNormBackwardFn> batch_norm_backward_kernel{"batch_norm_backward", {
    .cpu_reference = batch_norm_backward_cpu,
    .cpu_fast = cpu::batch_norm_backward_fast,
    .cuda = CXR_CUDA_KERNEL(batch_norm_backward),
}};
KernelTable<LayerNormForwardFn> layer_norm_forward_kernel{"layer_norm_forward", {
    .cpu_reference = layer_norm_forward_cpu,
    .cpu_fast = cpu::layer_norm_forward_fast,
    .cuda = CXR_CUDA_KERNEL(layer_norm_forward),
}};
KernelTable<LayerNormBackwardFn> layer_norm_backward_kernel{"layer_norm_backward", {
    .cpu_reference = layer_norm_backward_cpu,
    .cpu_fast = cpu::layer_norm_backward_fast,
    .cuda = CXR_CUDA_KERNEL(layer_norm_backward),
}};
KernelTable<DropoutMaskFn> dropout_mask_kernel{"dropout_mask", {
    .cpu_reference = dropout_mask_cpu,
    .cpu_fast = cpu::dropout_mask_fast,
    .cuda = CXR_CUDA_KERNEL(dropout_mask),
}};

}  // namespace cxr
