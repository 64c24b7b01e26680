// norm.cu — batch norm and layer norm (forward and backward) and the dropout mask on CUDA tensors,
// the contracts of tensor/kernels/norm.h and the reference formulas of ops/norm.cpp (derived in
// docs/NORMALIZATION.md), statistics accumulated in double; but float32 layer norm forward on
// contiguous rows and float32 batch-norm training statistics of a contiguous input run the
// kernel study's ladders (cuda/kernels/layernorm/, cuda/kernels/bnstats/), in float32 math.
// Otherwise the statistics are reductions on the engine of reduce.cuh (per channel over (N, *) for batch norm, per row over the trailing dims
// for layer norm; two passes, mean then squared deviations), the outputs elementwise maps that
// find their channel/row/column through stride-0 "slot" operands. The dropout mask is Philox of
// tensor/philox.h, the CPU's own function, so the masks are the CPU's bit for bit.
//
// Cost (x of n elements, b bytes each; H100: 3.35 TB/s, 34 TFLOP/s FP64), memory-bound but dropout:
//   batch_norm_forward: training 3 reads + 1 write (mean, deviations, normalize), 4 n b bytes,
//     ~10 FP64 flops per element: a (64, 256, 56, 56) float32 input (n b = 206 MB), 822 MB,
//     >= 245 us; eval 1 read + 1 write, 411 MB, >= 123 us.
//   batch_norm_backward: one pass over (g, x) for the sums, one over (g, x) writing grad_x:
//     5 n b bytes, the same input 1.03 GB, >= 307 us.
//   layer_norm_forward: the same 4 n b as batch norm's training pass; backward 7 n b (the row
//     and the column sums each read g and x, then grad_x): (8192, 768) float32 forward 101 MB,
//     >= 30 us; backward 176 MB, >= 53 us.
//   dropout_mask: n b bytes written, but ~100 integer ops per element (10 Philox rounds of two
//     32x32->64 multiplies, xors and adds): 16M float32 elements, 67 MB (>= 20 us of memory) and
//     ~1.6 G integer ops, >= ~100 us at ~16 T int32 ops/s: compute-bound.
#include "cuda/device_math.cuh"
#include "cuda/kernels.h"
#include "cuda/kernels/bnstats/bnstats.h"
#include "cuda/kernels/layernorm/layernorm.h"
#include "cuda/reduce.cuh"
#include "tensor/philox.h"

namespace cxr::cuda {
namespace {

// t's values contiguous on the device (a copy only when t is strided); undefined stays undefined.
Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? contiguous_values(t) : Tensor(); }
template <typename T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? device_data<T>(t) : nullptr;
}

// Strides over x's shape that send every element of channel c (dim 1) to slot c.
Strides channel_slots(const Tensor& x) {
  Strides s(size_t(x.dim()), 0);
  s[1] = 1;
  return s;
}

// Layer norm's slots over x's shape (lead dims, then k normalized dims): `row` is the row-major
// index over the lead dims, `col` over the normalized dims (each 0 along the other's dims).
struct RowColSlots {
  Strides row, col;
};
RowColSlots row_col_slots(const Tensor& x, int64_t k) {
  const size_t nd = size_t(x.dim()), lead = nd - size_t(k);
  RowColSlots s{Strides(nd, 0), Strides(nd, 0)};
  const Strides lead_strides = contiguous_strides(Shape(x.shape().begin(), x.shape().begin() + lead));
  const Strides norm_strides = contiguous_strides(Shape(x.shape().begin() + lead, x.shape().end()));
  for (size_t d = 0; d < nd; ++d) {
    if (d < lead) s.row[d] = lead_strides[d];
    else s.col[d] = norm_strides[d - lead];
  }
  return s;
}

// x's shape with the dims in [begin, end) set to 1.
Shape ones_in(Shape shape, size_t begin, size_t end) {
  for (size_t d = begin; d < end; ++d) shape[d] = 1;
  return shape;
}
// (N, C, *) -> (1, C, 1...): batch norm's per-channel reduction.
Shape channel_keep(const Shape& shape) { return ones_in(ones_in(shape, 0, 1), 2, shape.size()); }

// y = T((x - mean[s]) * scale[s] * w[p] + b[p]): offsets {out, x, statistic slot s, parameter slot p};
// w = 1 and b = 0 when absent (the reference's expression and order).
template <typename T>
__global__ void normalize_kernel(StridedIter<4> it, int64_t n, T* out, const T* x, const double* mean,
                                 const double* scale, const T* weight, const T* bias) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[4];
    it.offsets(i, off);
    const double w = weight ? double(weight[off[3]]) : 1.0, b = bias ? double(bias[off[3]]) : 0.0;
    out[off[0]] = T((double(x[off[1]]) - mean[off[2]]) * scale[off[2]] * w + b);
  }
}

template <typename T>
void normalize(const Tensor& x, const Tensor& out, const Strides& stat_slots, const Strides& param_slots,
               const double* mean, const double* scale, const Tensor& weight, const Tensor& bias) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const auto it = make_iter<4>("normalize", x.shape(), {out.strides(), x.strides(), stat_slots, param_slots});
  launch("normalize", normalize_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(out), device_data<T>(x), mean,
         scale, data_or_null<T>(weight), data_or_null<T>(bias));
}

// ---- batch norm ----
// Training, per channel c after the two passes: invstd, the saved statistics and the running
// ones (in place through their strides; unbiased variance).
template <typename T>
struct BatchNormTrainFinish {
  double count, eps, momentum;
  double* invstd;
  T *save_mean, *save_invstd;
  T *running_mean, *running_var;  // null when absent
  int64_t mean_stride, var_stride;
  __device__ void operator()(int64_t c, double mean, double ss) const {
    const double inv = 1.0 / dm::sqrt(ss / count + eps);
    invstd[c] = inv;
    save_mean[c] = T(mean);
    save_invstd[c] = T(inv);
    if (running_mean == nullptr) return;
    T& rm = running_mean[c * mean_stride];
    T& rv = running_var[c * var_stride];
    rm = T((1 - momentum) * double(rm) + momentum * mean);
    rv = T((1 - momentum) * double(rv) + momentum * ss / (count - 1));
  }
};

// Training on the bn_stats ladder's float32 mean and biased variance (stats: mean[C] then var[C]):
// the same finish, with ss = var x count.
template <typename T>
__global__ void batch_norm_finish_kernel(int64_t channels, const float* stats, double* mean,
                                         BatchNormTrainFinish<T> finish) {
  CXR_GRID_STRIDE_LOOP(c, channels) {
    mean[c] = double(stats[c]);
    finish(c, mean[c], double(stats[channels + c]) * finish.count);
  }
}

// Evaluation: the statistics are the running ones.
template <typename T>
__global__ void batch_norm_eval_stats_kernel(int64_t channels, const T* running_mean, int64_t mean_stride,
                                             const T* running_var, int64_t var_stride, double eps, double* mean,
                                             double* invstd, T* save_mean, T* save_invstd) {
  CXR_GRID_STRIDE_LOOP(c, channels) {
    mean[c] = double(running_mean[c * mean_stride]);
    invstd[c] = 1.0 / dm::sqrt(double(running_var[c * var_stride]) + eps);
    save_mean[c] = T(mean[c]);
    save_invstd[c] = T(invstd[c]);
  }
}

// A pair of double sums (the backward's per-channel/row/column sums).
struct SumPair {
  double a, b;
};
__host__ __device__ inline SumPair operator+(SumPair x, SumPair y) { return {x.a + y.a, x.b + y.b}; }

// Per channel: {sum g, sum g xhat}; grad_bias and grad_weight written when wanted.
template <typename T>
struct BatchNormGradSumsOp {
  using Acc = SumPair;
  const T *grad, *x, *save_mean, *save_invstd;
  SumPair* sums;
  T *grad_weight, *grad_bias;  // null when not wanted
  __device__ Acc identity() const { return {0.0, 0.0}; }
  __device__ Acc combine(Acc p, Acc q) const { return p + q; }
  __device__ Acc load(const int64_t (&off)[2], int64_t c, int64_t) const {
    const double g = double(grad[off[0]]);
    const double xhat = (double(x[off[1]]) - double(save_mean[c])) * double(save_invstd[c]);
    return {g, g * xhat};
  }
  __device__ void write(int64_t c, Acc s) const {
    sums[c] = s;
    if (grad_weight) grad_weight[c] = T(s.b);
    if (grad_bias) grad_bias[c] = T(s.a);
  }
};

// grad_x, offsets {grad_x, grad, x, channel}:
//   training gx = w invstd (g - sum g / M - xhat sum(g xhat) / M);  eval gx = g w invstd.
template <typename T>
__global__ void batch_norm_grad_input_kernel(StridedIter<4> it, int64_t n, T* grad_x, const T* grad, const T* x,
                                             const T* weight, const T* save_mean, const T* save_invstd,
                                             const SumPair* sums, double count, bool training) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[4];
    it.offsets(i, off);
    const int64_t c = off[3];
    const double g = double(grad[off[1]]), w = weight ? double(weight[c]) : 1.0, invstd = double(save_invstd[c]);
    if (!training) {
      grad_x[off[0]] = T(g * w * invstd);
    } else {
      const double xhat = (double(x[off[2]]) - double(save_mean[c])) * invstd;
      grad_x[off[0]] = T(w * invstd * (g - sums[c].a / count - xhat * sums[c].b / count));
    }
  }
}

// ---- layer norm ----
// Per row r after the two passes: rstd and the saved statistics.
template <typename T>
struct LayerNormFinish {
  double count, eps;
  double* rstd;
  T *save_mean, *save_rstd;
  __device__ void operator()(int64_t r, double mean, double ss) const {
    rstd[r] = 1.0 / dm::sqrt(ss / count + eps);
    save_mean[r] = T(mean);
    save_rstd[r] = T(rstd[r]);
  }
};

// The backward's inputs; xhat of an element of row r from the saved statistics.
template <typename T>
struct LayerNormGradInputs {
  const T *grad, *x, *weight, *save_mean, *save_rstd;  // weight null when absent
  __device__ double xhat(const int64_t (&off)[2], int64_t r) const {
    return (double(x[off[1]]) - double(save_mean[r])) * double(save_rstd[r]);
  }
  __device__ double w(int64_t c) const { return weight ? double(weight[c]) : 1.0; }
};

// Per row r (reduced over its columns c): {sum g w, sum g w xhat}.
template <typename T>
struct LayerNormRowSumsOp {
  using Acc = SumPair;
  LayerNormGradInputs<T> in;
  SumPair* sums;
  __device__ Acc identity() const { return {0.0, 0.0}; }
  __device__ Acc combine(Acc p, Acc q) const { return p + q; }
  __device__ Acc load(const int64_t (&off)[2], int64_t r, int64_t c) const {
    const double gw = double(in.grad[off[0]]) * in.w(c);
    return {gw, gw * in.xhat(off, r)};
  }
  __device__ void write(int64_t r, Acc s) const { sums[r] = s; }
};

// Per column c (reduced over the rows r): {sum g xhat, sum g} = grad_weight, grad_bias.
template <typename T>
struct LayerNormColumnSumsOp {
  using Acc = SumPair;
  LayerNormGradInputs<T> in;
  T *grad_weight, *grad_bias;  // null when not wanted
  __device__ Acc identity() const { return {0.0, 0.0}; }
  __device__ Acc combine(Acc p, Acc q) const { return p + q; }
  __device__ Acc load(const int64_t (&off)[2], int64_t, int64_t r) const {
    const double g = double(in.grad[off[0]]);
    return {g * in.xhat(off, r), g};
  }
  __device__ void write(int64_t c, Acc s) const {
    if (grad_weight) grad_weight[c] = T(s.a);
    if (grad_bias) grad_bias[c] = T(s.b);
  }
};

// grad_x, offsets {grad_x, grad, x, row, column}: gx = rstd (g w - sum(g w) / D - xhat sum(g w xhat) / D).
template <typename T>
__global__ void layer_norm_grad_input_kernel(StridedIter<5> it, int64_t n, T* grad_x, LayerNormGradInputs<T> in,
                                             const SumPair* sums, double count) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[5];
    it.offsets(i, off);
    const int64_t r = off[3], c = off[4];
    const int64_t gx_off[2] = {off[1], off[2]};  // {grad, x}, as xhat() reads them
    const double gxh = double(in.grad[off[1]]) * in.w(c), xhat = in.xhat(gx_off, r);
    grad_x[off[0]] = T(double(in.save_rstd[r]) * (gxh - sums[r].a / count - xhat * sums[r].b / count));
  }
}

// ---- dropout ----
template <typename T>
__global__ void dropout_mask_kernel(StridedIter<1> it, int64_t n, T* mask, double p, T scale, uint64_t seed,
                                    uint64_t first_counter) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    it.offsets(i, off);
    mask[off[0]] = philox::uniform(seed, first_counter + uint64_t(i)) < p ? T(0) : scale;
  }
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps, const Tensor& out,
                        const Tensor& save_mean, const Tensor& save_invstd) {
  CXR_CHECK(x.dim() >= 2, "batch_norm: expects an input of shape (N, C, *), got ", shape_str(x.shape()));
  const int64_t C = x.size(1);
  if (C == 0) return;
  const Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
  const Tensor mean = device_doubles(C), invstd = device_doubles(C);
  visit_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    T* rm = running_mean.defined() ? device_data<T>(running_mean) : nullptr;
    T* rv = running_var.defined() ? device_data<T>(running_var) : nullptr;
    const int64_t rm_stride = rm ? running_mean.strides()[0] : 0, rv_stride = rv ? running_var.strides()[0] : 0;
    if (training) {
      const ReduceGeometry<1> per_channel =
          reduce_geometry<1>("batch_norm", x.shape(), channel_keep(x.shape()), {x.strides()});
      const BatchNormTrainFinish<T> finish{double(per_channel.count), eps, momentum, invstd.data<double>(),
                                           device_data<T>(save_mean), device_data<T>(save_invstd), rm, rv,
                                           rm_stride, rv_stride};
      const int64_t N = x.size(0), HW = C == 0 || N == 0 ? 0 : x.numel() / (N * C);
      if (std::is_same_v<T, float> && x.is_contiguous() && N * HW < (int64_t(1) << 24)) {
        // float32 NCHW: the kernel study's batch-norm statistics ladder (cuda/kernels/bnstats/:
        // its best, or CXR_CUDA_VERSION_BN_STATS), in float32 math.
        const Tensor stats = empty({2 * C}, {DType::Float32, Device::CUDA, false});
        BnStatsArgs a;
        a.N = N, a.C = C, a.HW = HW;
        a.x = device_data<float>(x), a.mean = stats.data<float>(), a.var = stats.data<float>() + C;
        bn_stats(selected_version(bn_stats_ladder()), a);
        launch("batch_norm", batch_norm_finish_kernel<T>, blocks_for(C), kBlock, C,
               static_cast<const float*>(stats.data<float>()), mean.data<double>(), finish);
      } else {
        mean_and_squared_deviations("batch_norm", per_channel, device_data<T>(x), mean.data<double>(), finish);
      }
    } else {
      CXR_CHECK(rm && rv, "batch_norm: running_mean and running_var must be defined in evaluation mode");
      launch("batch_norm", batch_norm_eval_stats_kernel<T>, blocks_for(C), kBlock, C, static_cast<const T*>(rm),
             rm_stride, static_cast<const T*>(rv), rv_stride, eps, mean.data<double>(), invstd.data<double>(),
             device_data<T>(save_mean), device_data<T>(save_invstd));
    }
    const Strides chan = channel_slots(x);
    normalize<T>(x, out, chan, chan, mean.data<double>(), invstd.data<double>(), w, b);
  });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                         const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                         const Tensor& grad_bias) {
  CXR_CHECK(x.dim() >= 2, "batch_norm_backward: expects an input of shape (N, C, *), got ", shape_str(x.shape()));
  const int64_t C = x.size(1);
  if (C == 0) return;
  const Tensor w = contiguous_or_undefined(weight);
  const Tensor mean = contiguous_values(save_mean), invstd = contiguous_values(save_invstd);
  const Tensor sums = empty({2 * C}, {DType::Float64, Device::CUDA, false});
  visit_floating(x.dtype(), "batch_norm_backward", [&]<typename T>() {
    const ReduceGeometry<2> per_channel = reduce_geometry<2>("batch_norm_backward", x.shape(), channel_keep(x.shape()),
                                                             {grad_out.strides(), x.strides()});
    SumPair* ps = reinterpret_cast<SumPair*>(sums.data<double>());
    if (training || grad_weight.defined() || grad_bias.defined()) {
      const Tensor gw = contiguous_or_undefined(grad_weight), gb = contiguous_or_undefined(grad_bias);
      run_reduction("batch_norm_backward", per_channel,
                    BatchNormGradSumsOp<T>{device_data<T>(grad_out), device_data<T>(x), device_data<T>(mean),
                                           device_data<T>(invstd), ps, gw.defined() ? device_data<T>(gw) : nullptr,
                                           gb.defined() ? device_data<T>(gb) : nullptr});
      if (gw.defined() && !gw.same(grad_weight)) copy(grad_weight, gw);
      if (gb.defined() && !gb.same(grad_bias)) copy(grad_bias, gb);
    }
    const int64_t n = x.numel();
    if (!grad_x.defined() || n == 0) return;
    const auto it = make_iter<4>("batch_norm_backward", x.shape(),
                                 {grad_x.strides(), grad_out.strides(), x.strides(), channel_slots(x)});
    launch("batch_norm_backward", batch_norm_grad_input_kernel<T>, blocks_for(n), kBlock, it, n,
           device_data<T>(grad_x), device_data<T>(grad_out), device_data<T>(x), data_or_null<T>(w),
           device_data<T>(mean), device_data<T>(invstd), static_cast<const SumPair*>(ps), double(per_channel.count),
           training);
  });
}

void layer_norm_forward(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias, double eps,
                        const Tensor& out, const Tensor& save_mean, const Tensor& save_rstd) {
  CXR_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), "layer_norm: bad normalized_ndim ", normalized_ndim,
            " for shape ", shape_str(x.shape()));
  const size_t lead = size_t(x.dim() - normalized_ndim);
  const ReduceGeometry<1> per_row =
      reduce_geometry<1>("layer_norm", x.shape(), ones_in(x.shape(), lead, size_t(x.dim())), {x.strides()});
  if (per_row.outputs == 0) return;
  CXR_CHECK(save_mean.is_contiguous() && save_rstd.is_contiguous(), "layer_norm: save_mean/save_rstd must be contiguous");
  const Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
  // float32 on contiguous rows (the encoder's case) runs the kernel study's layer-norm ladder
  // (cuda/kernels/layernorm/: its best, or CXR_CUDA_VERSION_LAYER_NORM), in float32 math.
  if (x.dtype() == DType::Float32 && x.is_contiguous() && out.is_contiguous() && per_row.outputs <= INT32_MAX &&
      per_row.count < (int64_t(1) << 24)) {
    LayerNormArgs a;
    a.rows = per_row.outputs, a.cols = per_row.count, a.eps = float(eps);
    a.x = device_data<float>(x), a.out = device_data<float>(out);
    a.weight = data_or_null<float>(w), a.bias = data_or_null<float>(b);
    a.save_mean = device_data<float>(save_mean), a.save_rstd = device_data<float>(save_rstd);
    return layer_norm_rows(selected_version(layer_norm_ladder()), a);
  }
  const Tensor mean = device_doubles(per_row.outputs), rstd = device_doubles(per_row.outputs);
  visit_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    mean_and_squared_deviations("layer_norm", per_row, device_data<T>(x), mean.data<double>(),
                                LayerNormFinish<T>{double(per_row.count), eps, rstd.data<double>(),
                                                   device_data<T>(save_mean), device_data<T>(save_rstd)});
    const RowColSlots slots = row_col_slots(x, normalized_ndim);
    normalize<T>(x, out, slots.row, slots.col, mean.data<double>(), rstd.data<double>(), w, b);
  });
}

void layer_norm_backward(const Tensor& grad_out, const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_rstd, const Tensor& grad_x,
                         const Tensor& grad_weight, const Tensor& grad_bias) {
  CXR_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.dim(), "layer_norm_backward: bad normalized_ndim ",
            normalized_ndim, " for shape ", shape_str(x.shape()));
  const size_t lead = size_t(x.dim() - normalized_ndim), nd = size_t(x.dim());
  const std::array<Strides, 2> operands = {grad_out.strides(), x.strides()};
  const ReduceGeometry<2> per_row =
      reduce_geometry<2>("layer_norm_backward", x.shape(), ones_in(x.shape(), lead, nd), operands);
  const ReduceGeometry<2> per_column =
      reduce_geometry<2>("layer_norm_backward", x.shape(), ones_in(x.shape(), 0, lead), operands);
  const Tensor w = contiguous_or_undefined(weight);
  const Tensor mean = contiguous_values(save_mean), rstd = contiguous_values(save_rstd);
  visit_floating(x.dtype(), "layer_norm_backward", [&]<typename T>() {
    const LayerNormGradInputs<T> in{device_data<T>(grad_out), device_data<T>(x), data_or_null<T>(w),
                                    device_data<T>(mean), device_data<T>(rstd)};
    if (grad_weight.defined() || grad_bias.defined()) {
      const Tensor gw = contiguous_or_undefined(grad_weight), gb = contiguous_or_undefined(grad_bias);
      run_reduction("layer_norm_backward", per_column,
                    LayerNormColumnSumsOp<T>{in, gw.defined() ? device_data<T>(gw) : nullptr,
                                             gb.defined() ? device_data<T>(gb) : nullptr});
      if (gw.defined() && !gw.same(grad_weight)) copy(grad_weight, gw);
      if (gb.defined() && !gb.same(grad_bias)) copy(grad_bias, gb);
    }
    const int64_t n = x.numel();
    if (!grad_x.defined() || n == 0) return;
    const Tensor sums = empty({2 * per_row.outputs}, {DType::Float64, Device::CUDA, false});
    SumPair* ps = reinterpret_cast<SumPair*>(sums.data<double>());
    run_reduction("layer_norm_backward", per_row, LayerNormRowSumsOp<T>{in, ps});
    const RowColSlots slots = row_col_slots(x, normalized_ndim);
    const auto it = make_iter<5>("layer_norm_backward", x.shape(),
                                 {grad_x.strides(), grad_out.strides(), x.strides(), slots.row, slots.col});
    launch("layer_norm_backward", layer_norm_grad_input_kernel<T>, blocks_for(n), kBlock, it, n,
           device_data<T>(grad_x), in, static_cast<const SumPair*>(ps), double(per_row.count));
  });
}

void dropout_mask(const Tensor& mask, double p, double scale, uint64_t seed, uint64_t first_counter) {
  const int64_t n = mask.numel();
  if (n == 0) return;
  const auto it = make_iter<1>("dropout", mask.shape(), {mask.strides()});
  visit_floating(mask.dtype(), "dropout", [&]<typename T>() {
    launch("dropout", dropout_mask_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(mask), p, T(scale), seed,
           first_counter);
  });
}

}  // namespace cxr::cuda
