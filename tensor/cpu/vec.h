// vec.h — the vectorized loops under the fast elementwise, reduction and normalization kernels:
// plain loops over contiguous arrays, compiled once per instruction set (vec_impl.h included by
// vec_avx512.cpp, vec_avx2.cpp and vec.cpp for the portable build) and chosen at run time.
//
// Determinism: a map (y[i] = f(x[i])) computes each element by the same expression whatever the
// chunk it falls in. A reduction accumulates in 8 double lanes, element i into lane i mod 8 of
// the array it is given, lanes combined 0..7 by the caller: the order depends only on the data
// layout, never on threads. (Results may differ in the last bits between instruction sets: FMA
// contraction; they never differ between thread counts.)
#pragma once

#include <cstdint>

#include "tensor/cpu/runtime.h"
#include "tensor/kernels/elementwise.h"

namespace cxr::cpu {

inline constexpr int kLanes = 8;  // double accumulator lanes of the reductions

template <typename T>
struct VecOps {
  // y = f(x), n elements; only the ops listed in vec_impl.h (others: the caller falls back).
  void (*unary)(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p);
  // y[i] = a[i * sa] op b[i * sb] with sa, sb in {0, 1}: elementwise, or one side a scalar.
  void (*binary)(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n);
  void (*compare)(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, bool* y, int64_t n);
  // acc[i % 8] += x[i]
  void (*sum_lanes)(const T* x, int64_t n, double* acc);
  // acc[i % 8] += (x[i] - mean)^2
  void (*sqdev_lanes)(const T* x, int64_t n, double mean, double* acc);
  // acc_g[i % 8] += g[i],  acc_gx[i % 8] += g[i] (x[i] - mean)
  void (*grad_lanes)(const T* g, const T* x, int64_t n, double mean, double* acc_g, double* acc_gx);
  // y = a x + b
  void (*affine)(const T* x, T* y, int64_t n, T a, T b);
  // y = a g + b x + c
  void (*affine2)(const T* g, const T* x, T* y, int64_t n, T a, T b, T c);
  // acc[i] += x[i] (double accumulators, one per element: column sums of a matrix)
  void (*accumulate)(const T* x, double* acc, int64_t n);

  // ---- layer norm (one row of n values; w, b per column) ----
  // y = (x a + c) w + b, a = rstd, c = -mean rstd
  void (*ln_forward)(const T* x, T* y, int64_t n, T a, T c, const T* w, const T* b);
  // acc_g[i % 8] += g w,  acc_gx[i % 8] += g w (x - mean)
  void (*ln_grad_lanes)(const T* g, const T* w, const T* x, int64_t n, double mean, double* acc_g, double* acc_gx);
  // y = a g w + b x + c
  void (*ln_backward)(const T* g, const T* w, const T* x, T* y, int64_t n, T a, T b, T c);
  // acc_w[i] += g (x - mean) rstd,  acc_b[i] += g   (column sums for the parameter gradients)
  void (*ln_param_grads)(const T* g, const T* x, int64_t n, double mean, double rstd, double* acc_w, double* acc_b);

  // ---- softmax along a contiguous row ----
  // The row's maximum (NaN if any element is NaN).
  T (*row_max)(const T* x, int64_t n);
  // y = exp(x - m), returns sum(y) accumulated in double. float: the polynomial exp of vec_impl.h
  // (within 2 ulp of std::exp, vectorized); double: std::exp.
  double (*exp_shifted)(const T* x, T* y, int64_t n, T m);
  // y *= s
  void (*scale)(T* y, int64_t n, T s);
  // y = (x - m) - c   (log_softmax: exact in x - m, as the reference)
  void (*shift2)(const T* x, T* y, int64_t n, T m, T c);
  // Dropout mask: y[i] = 0 when uniform(Philox-4x32-10(seed, first + i)) < p, else scale — the
  // reference's draw (tensor/random.cpp), inlined and unrolled so the compiler can vectorize it.
  void (*dropout_mask)(uint64_t seed, uint64_t first, double p, T scale, T* y, int64_t n);
  // d[i] = s[i * stride]  (stride 2, the stride-2 convolutions' im2col rows, vectorized by permutes)
  void (*gather)(const T* s, int64_t stride, T* d, int64_t n);
};

struct VecKernels {
  VecOps<float> f32;
  VecOps<double> f64;
  template <typename T>
  const VecOps<T>& get() const {
    if constexpr (sizeof(T) == 4)
      return f32;
    else
      return f64;
  }
};

const VecKernels& vec_kernels(Isa isa);
inline const VecKernels& vec_kernels() { return vec_kernels(cpu_isa()); }

// Which unary ops VecOps::unary implements.
bool vec_unary_supported(UnaryOp op);

}  // namespace cxr::cpu
