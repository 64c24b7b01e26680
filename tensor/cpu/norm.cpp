// norm.cpp — fast batch-norm forward and backward over NCHW-like inputs whose (n, c) planes are
// contiguous (any strides between planes): per-channel statistics in double lanes (vec.h),
// channels spread over threads, then one vectorized pass over the planes with per-channel
// coefficients:
//   forward:  y = scale x + shift,  scale = w invstd, shift = b - mean scale   (in double, rounded)
//   backward: gx = a g + b x + c with, k = w invstd, M the count per channel (NORMALIZATION.md §1):
//             training: a = k, b = -k invstd sum(g xhat) / M, c = -k sum(g) / M - b mean;
//             eval:     a = k, b = c = 0
// Same contracts and math as ops/norm.cpp (whose reference kernels do every element in
// double); other layouts and dtypes run the reference. Cost: the forward reads x twice for the
// statistics and once to normalize, and writes y: 4 passes of N*C*S values, memory-bound.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.h"
#include "tensor/cpu/loops.h"
#include "tensor/cpu/vec.h"

namespace cxr::cpu {
namespace {

// The plane size S of t (N, C, *) when every (n, c) plane is one contiguous run, else 0.
int64_t plane_size(const Tensor& t) {
  if (t.dim() < 3) return 0;
  int64_t expected = 1;
  for (int64_t d = t.dim() - 1; d >= 2; --d) {
    if (t.size(d) != 1 && t.stride(d) != expected) return 0;
    expected *= t.size(d);
  }
  return expected;
}

bool is_float(const Tensor& t) { return t.dtype() == DType::Float32 || t.dtype() == DType::Float64; }

double combine(const double* lanes) {
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += lanes[l];
  return s;
}

template <typename T>
double value_at(const Tensor& t, int64_t i, double fallback) {
  return t.defined() ? double(t.data<T>()[i * t.stride(0)]) : fallback;
}

}  // namespace

void batch_norm_forward_fast(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double momentum, double eps, const Tensor& out,
                             const Tensor& save_mean, const Tensor& save_invstd) {
  const int64_t S = plane_size(x);
  if (!is_float(x) || S == 0 || plane_size(out) != S || !save_mean.is_contiguous() || !save_invstd.is_contiguous()) {
    return batch_norm_forward_kernel.cpu_reference()(x, weight, bias, running_mean, running_var, training, momentum,
                                                     eps, out, save_mean, save_invstd);
  }
  visit_floating(x.dtype(), "batch_norm", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const int64_t N = x.size(0), C = x.size(1), M = N * S;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const int64_t xn = x.stride(0), xc = x.stride(1), on = out.stride(0), oc = out.stride(1);
    std::vector<double> mean(C), invstd(C), var_sum(C);
    if (training) {
      parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double lanes[kLanes] = {};
          for (int64_t n = 0; n < N; ++n) ops.sum_lanes(px + n * xn + c * xc, S, lanes);
          mean[c] = combine(lanes) / double(M);
          double sq[kLanes] = {};
          for (int64_t n = 0; n < N; ++n) ops.sqdev_lanes(px + n * xn + c * xc, S, mean[c], sq);
          var_sum[c] = combine(sq);
          invstd[c] = 1.0 / std::sqrt(var_sum[c] / double(M) + eps);
        }
      });
      if (running_mean.defined()) {  // in place through the buffers' strides, as the reference
        T* rm = running_mean.data<T>();
        T* rv = running_var.data<T>();
        for (int64_t c = 0; c < C; ++c) {
          T& m = rm[c * running_mean.stride(0)];
          T& v = rv[c * running_var.stride(0)];
          m = T((1 - momentum) * double(m) + momentum * mean[c]);
          v = T((1 - momentum) * double(v) + momentum * var_sum[c] / double(M - 1));
        }
      }
    } else {
      for (int64_t c = 0; c < C; ++c) {
        mean[c] = value_at<T>(running_mean, c, 0);
        invstd[c] = 1.0 / std::sqrt(value_at<T>(running_var, c, 1) + eps);
      }
    }
    std::vector<T> scale(C), shift(C);
    for (int64_t c = 0; c < C; ++c) {
      save_mean.data<T>()[c] = T(mean[c]);
      save_invstd.data<T>()[c] = T(invstd[c]);
      const double s = value_at<T>(weight, c, 1) * invstd[c];
      scale[c] = T(s);
      shift[c] = T(value_at<T>(bias, c, 0) - mean[c] * s);
    }
    parallel_for(N * C, std::max<int64_t>(1, kElementwiseGrain / S), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n = p / C, c = p % C;
        ops.affine(px + n * xn + c * xc, po + n * on + c * oc, S, scale[c], shift[c]);
      }
    });
  });
}

void batch_norm_backward_fast(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                              const Tensor& grad_bias) {
  const int64_t S = plane_size(x);
  if (!is_float(x) || S == 0 || plane_size(g) != S || (grad_x.defined() && plane_size(grad_x) != S)) {
    return batch_norm_backward_kernel.cpu_reference()(g, x, weight, save_mean, save_invstd, training, grad_x,
                                                      grad_weight, grad_bias);
  }
  visit_floating(x.dtype(), "batch_norm_backward", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    const int64_t N = x.size(0), C = x.size(1), M = N * S;
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    const int64_t xn = x.stride(0), xc = x.stride(1), gn = g.stride(0), gc = g.stride(1);
    std::vector<double> mean(C), invstd(C), sum_g(C, 0.0), sum_gxhat(C, 0.0);
    for (int64_t c = 0; c < C; ++c) mean[c] = value_at<T>(save_mean, c, 0), invstd[c] = value_at<T>(save_invstd, c, 1);
    if (training || grad_weight.defined() || grad_bias.defined()) {
      parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          double lg[kLanes] = {}, lgx[kLanes] = {};
          for (int64_t n = 0; n < N; ++n)
            ops.grad_lanes(pg + n * gn + c * gc, px + n * xn + c * xc, S, mean[c], lg, lgx);
          sum_g[c] = combine(lg);
          sum_gxhat[c] = combine(lgx) * invstd[c];
        }
      });
    }
    for (int64_t c = 0; c < C; ++c) {  // parameter gradients: fresh tensors; the engine accumulates
      if (grad_weight.defined()) grad_weight.data<T>()[c * grad_weight.stride(0)] = T(sum_gxhat[c]);
      if (grad_bias.defined()) grad_bias.data<T>()[c * grad_bias.stride(0)] = T(sum_g[c]);
    }
    if (!grad_x.defined()) return;
    std::vector<T> ca(C), cb(C), cc(C);
    for (int64_t c = 0; c < C; ++c) {
      const double k = value_at<T>(weight, c, 1) * invstd[c];
      const double b = training ? -k * invstd[c] * sum_gxhat[c] / double(M) : 0.0;
      ca[c] = T(k);
      cb[c] = T(b);
      cc[c] = T(training ? -k * sum_g[c] / double(M) - b * mean[c] : 0.0);
    }
    T* pgx = grad_x.data<T>();
    const int64_t dn = grad_x.stride(0), dc = grad_x.stride(1);
    parallel_for(N * C, std::max<int64_t>(1, kElementwiseGrain / S), [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t n = p / C, c = p % C;
        ops.affine2(pg + n * gn + c * gc, px + n * xn + c * xc, pgx + n * dn + c * dc, S, ca[c], cb[c], cc[c]);
      }
    });
  });
}

// ---- layer norm: rows of D contiguous values, x and grad_out contiguous ----
//   forward:  y = (x rstd - mean rstd) w + b
//   backward: gx = a (g w) + b x + c per row, a = rstd, b = -rstd^3 sum(g w (x - mean)) / D,
//             c = -rstd sum(g w) / D - b mean   (NORMALIZATION.md §2 with xhat = (x - mean) rstd);
//             gw, gb: column sums over the rows, each column range summed by one thread in row order.
namespace {
template <typename T>
std::vector<T> param_or(const Tensor& t, int64_t D, T fill) {
  if (!t.defined()) return std::vector<T>(size_t(D), fill);
  Tensor c = contiguous_values(t);
  return std::vector<T>(c.data<T>(), c.data<T>() + D);
}
}  // namespace

void layer_norm_forward_fast(const Tensor& x, int64_t k, const Tensor& weight, const Tensor& bias, double eps,
                             const Tensor& out, const Tensor& save_mean, const Tensor& save_rstd) {
  if (!is_float(x) || !x.is_contiguous() || !out.is_contiguous() || !save_mean.is_contiguous() ||
      !save_rstd.is_contiguous()) {
    return layer_norm_forward_kernel.cpu_reference()(x, k, weight, bias, eps, out, save_mean, save_rstd);
  }
  visit_floating(x.dtype(), "layer_norm", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    int64_t D = 1;
    for (int64_t d = x.dim() - k; d < x.dim(); ++d) D *= x.size(d);
    const int64_t rows = D == 0 ? 0 : x.numel() / D;
    const std::vector<T> w = param_or<T>(weight, D, T(1)), b = param_or<T>(bias, D, T(0));
    const T* px = x.data<T>();
    T* po = out.data<T>();
    T* pm = save_mean.data<T>();
    T* pr = save_rstd.data<T>();
    parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = px + r * D;
        double lanes[kLanes] = {}, sq[kLanes] = {};
        ops.sum_lanes(xr, D, lanes);
        const double mean = combine(lanes) / double(D);
        ops.sqdev_lanes(xr, D, mean, sq);
        const double rstd = 1.0 / std::sqrt(combine(sq) / double(D) + eps);
        pm[r] = T(mean);
        pr[r] = T(rstd);
        ops.ln_forward(xr, po + r * D, D, T(rstd), T(-mean * rstd), w.data(), b.data());
      }
    });
  });
}

void layer_norm_backward_fast(const Tensor& g, const Tensor& x, int64_t k, const Tensor& weight,
                              const Tensor& save_mean, const Tensor& save_rstd, const Tensor& grad_x,
                              const Tensor& grad_weight, const Tensor& grad_bias) {
  if (!is_float(x) || !x.is_contiguous() || !g.is_contiguous() || (grad_x.defined() && !grad_x.is_contiguous())) {
    return layer_norm_backward_kernel.cpu_reference()(g, x, k, weight, save_mean, save_rstd, grad_x, grad_weight,
                                                      grad_bias);
  }
  visit_floating(x.dtype(), "layer_norm_backward", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    int64_t D = 1;
    for (int64_t d = x.dim() - k; d < x.dim(); ++d) D *= x.size(d);
    const int64_t rows = D == 0 ? 0 : x.numel() / D;
    const std::vector<T> w = param_or<T>(weight, D, T(1));
    const Tensor mean_t = contiguous_values(save_mean), rstd_t = contiguous_values(save_rstd);
    const T* pm = mean_t.data<T>();
    const T* pr = rstd_t.data<T>();
    const T* px = x.data<T>();
    const T* pg = g.data<T>();
    if (grad_x.defined()) {
      T* pgx = grad_x.data<T>();
      parallel_for(rows, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(D, 1)),
                   [&](int64_t r0, int64_t r1) {
                     for (int64_t r = r0; r < r1; ++r) {
                       const double mean = double(pm[r]), rstd = double(pr[r]);
                       double lg[kLanes] = {}, lgx[kLanes] = {};
                       ops.ln_grad_lanes(pg + r * D, w.data(), px + r * D, D, mean, lg, lgx);
                       const double b = -rstd * rstd * rstd * combine(lgx) / double(D);
                       const double c = -rstd * combine(lg) / double(D) - b * mean;
                       ops.ln_backward(pg + r * D, w.data(), px + r * D, pgx + r * D, D, T(rstd), T(b), T(c));
                     }
                   });
    }
    if (!grad_weight.defined() && !grad_bias.defined()) return;
    std::vector<double> acc_w(size_t(D), 0.0), acc_b(size_t(D), 0.0);
    parallel_for(D, 256, [&](int64_t j0, int64_t j1) {
      for (int64_t r = 0; r < rows; ++r)
        ops.ln_param_grads(pg + r * D + j0, px + r * D + j0, j1 - j0, double(pm[r]), double(pr[r]), acc_w.data() + j0,
                           acc_b.data() + j0);
    });
    // Parameter gradients: fresh tensors (of normalized_shape, contiguous); the engine accumulates.
    for (int64_t j = 0; j < D; ++j) {
      if (grad_weight.defined()) grad_weight.data<T>()[j] = T(acc_w[size_t(j)]);
      if (grad_bias.defined()) grad_bias.data<T>()[j] = T(acc_b[size_t(j)]);
    }
  });
}

// ---- dropout mask: element i is 0 when Philox(seed, first + i) < p, else scale ----
// The reference's draw per element (vec.h inlines Philox so it vectorizes), for a contiguous mask
// spread over threads: counter-based, so bit-identical whatever the chunking.
void dropout_mask_fast(const Tensor& mask, double p, double scale, uint64_t seed, uint64_t first_counter) {
  if (!is_float(mask) || !mask.is_contiguous()) {
    return dropout_mask_kernel.cpu_reference()(mask, p, scale, seed, first_counter);
  }
  visit_floating(mask.dtype(), "dropout", [&]<typename T>() {
    const auto& ops = vec_kernels().get<T>();
    T* pm = mask.data<T>();
    parallel_for(mask.numel(), 16 * 1024, [&](int64_t i0, int64_t i1) {
      ops.dropout_mask(seed, first_counter + uint64_t(i0), p, T(scale), pm + i0, i1 - i0);
    });
  });
}

}  // namespace cxr::cpu
