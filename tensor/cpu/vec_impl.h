// vec_impl.h — the loops of vec.h, written once and compiled per instruction set: included by
// vec_<isa>.cpp after its target pragma (every function here has internal linkage). The compiler
// vectorizes them (-O3 on tensor/cpu/); transcendental functions stay scalar calls (std::exp,
// std::erf ...), with the reference kernels' expressions: bit-identical to them, except where an
// instruction set with FMA contracts a*b + c (GELU's derivative).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "tensor/cpu/vec.h"

namespace cxr::cpu {
namespace {

template <typename T, typename F>
void map1(const T* x, T* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename T>
T sigmoid_value(T x) {  // as the reference: never exponentiates a large positive number
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

// GELU (erf form) and its derivative, as the reference kernels write them (ops/elementwise.cpp).
template <typename T>
T gelu_value(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}
template <typename T>
T gelu_derivative(T x) {
  T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
  T pdf = std::exp(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);  // 1/sqrt(2 pi)
  return cdf + x * pdf;
}

template <typename T>
void unary_impl(UnaryOp op, const T* x, T* y, int64_t n, UnaryParams p) {
  switch (op) {
    case UnaryOp::Neg:
      map1(x, y, n, [](T v) { return T(-v); });
      break;
    case UnaryOp::Abs:
      map1(x, y, n, [](T v) { return v < 0 ? T(-v) : v; });
      break;
    case UnaryOp::Relu:
      map1(x, y, n, [](T v) { return v > 0 ? v : T(0); });
      break;
    case UnaryOp::ReluMask:
      map1(x, y, n, [](T v) { return v > 0 ? T(1) : T(0); });
      break;
    case UnaryOp::Sqrt:
      map1(x, y, n, [](T v) { return std::sqrt(v); });
      break;
    case UnaryOp::Rsqrt:
      map1(x, y, n, [](T v) { return T(1) / std::sqrt(v); });
      break;
    case UnaryOp::Exp:
      map1(x, y, n, [](T v) { return std::exp(v); });
      break;
    case UnaryOp::Log:
      map1(x, y, n, [](T v) { return std::log(v); });
      break;
    case UnaryOp::Tanh:
      map1(x, y, n, [](T v) { return std::tanh(v); });
      break;
    case UnaryOp::Sigmoid:
      map1(x, y, n, [](T v) { return sigmoid_value(v); });
      break;
    case UnaryOp::Gelu:
      map1(x, y, n, [](T v) { return gelu_value(v); });
      break;
    case UnaryOp::GeluDerivative:
      map1(x, y, n, [](T v) { return gelu_derivative(v); });
      break;
    case UnaryOp::Softplus: {
      const T beta = T(p.beta), threshold = T(p.threshold);
      map1(x, y, n, [=](T v) { return v * beta > threshold ? v : std::log1p(std::exp(v * beta)) / beta; });
      break;
    }
    default:
      break;  // not offered (vec_unary_supported)
  }
}

template <typename T, typename R, typename F>
void map2(const T* a, int64_t sa, const T* b, int64_t sb, R* y, int64_t n, F f) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
  } else if (sa == 1) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], bv);
  } else {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) y[i] = f(av, b[i]);
  }
}

template <typename T>
void binary_impl(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n) {
  switch (op) {
    case BinaryOp::Add:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return T(x + z); });
      break;
    case BinaryOp::Sub:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return T(x - z); });
      break;
    case BinaryOp::Mul:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return T(x * z); });
      break;
    case BinaryOp::Div:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return T(x / z); });
      break;
    case BinaryOp::Pow:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return T(std::pow(x, z)); });
      break;
    case BinaryOp::Maximum:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x != x || z != z ? T(x + z) : x > z ? x : z; });
      break;
    case BinaryOp::Minimum:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x != x || z != z ? T(x + z) : x < z ? x : z; });
      break;
    default:
      break;  // comparisons: compare_impl
  }
}

template <typename T>
void compare_impl(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, bool* y, int64_t n) {
  switch (op) {
    case BinaryOp::Eq:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x == z; });
      break;
    case BinaryOp::Ne:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x != z; });
      break;
    case BinaryOp::Lt:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x < z; });
      break;
    case BinaryOp::Le:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x <= z; });
      break;
    case BinaryOp::Gt:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x > z; });
      break;
    case BinaryOp::Ge:
      map2(a, sa, b, sb, y, n, [](T x, T z) { return x >= z; });
      break;
    default:
      break;
  }
}

// The lane reductions: blocks of 8 elements, element l of a block into lane l.
template <typename T>
void sum_lanes_impl(const T* x, int64_t n, double* acc) {
  double s[kLanes];
  for (int l = 0; l < kLanes; ++l) s[l] = acc[l];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += double(x[i + l]);
  for (int l = 0; i + l < n; ++l) s[l] += double(x[i + l]);
  for (int l = 0; l < kLanes; ++l) acc[l] = s[l];
}

template <typename T>
void sqdev_lanes_impl(const T* x, int64_t n, double mean, double* acc) {
  double s[kLanes];
  for (int l = 0; l < kLanes; ++l) s[l] = acc[l];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double d = double(x[i + l]) - mean;
      s[l] += d * d;
    }
  for (int l = 0; i + l < n; ++l) {
    const double d = double(x[i + l]) - mean;
    s[l] += d * d;
  }
  for (int l = 0; l < kLanes; ++l) acc[l] = s[l];
}

template <typename T>
void grad_lanes_impl(const T* g, const T* x, int64_t n, double mean, double* acc_g, double* acc_gx) {
  double sg[kLanes], sgx[kLanes];
  for (int l = 0; l < kLanes; ++l) sg[l] = acc_g[l], sgx[l] = acc_gx[l];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double gv = double(g[i + l]);
      sg[l] += gv;
      sgx[l] += gv * (double(x[i + l]) - mean);
    }
  for (int l = 0; i + l < n; ++l) {
    const double gv = double(g[i + l]);
    sg[l] += gv;
    sgx[l] += gv * (double(x[i + l]) - mean);
  }
  for (int l = 0; l < kLanes; ++l) acc_g[l] = sg[l], acc_gx[l] = sgx[l];
}

template <typename T>
void affine_impl(const T* x, T* y, int64_t n, T a, T b) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i] + b;
}

template <typename T>
void affine2_impl(const T* g, const T* x, T* y, int64_t n, T a, T b, T c) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * g[i] + b * x[i] + c;
}

template <typename T>
void accumulate_impl(const T* x, double* acc, int64_t n) {
  for (int64_t i = 0; i < n; ++i) acc[i] += double(x[i]);
}

// ---- layer norm ----
template <typename T>
void ln_forward_impl(const T* x, T* y, int64_t n, T a, T c, const T* w, const T* b) {
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * a + c) * w[i] + b[i];
}

template <typename T>
void ln_grad_lanes_impl(const T* g, const T* w, const T* x, int64_t n, double mean, double* acc_g, double* acc_gx) {
  double sg[kLanes], sgx[kLanes];
  for (int l = 0; l < kLanes; ++l) sg[l] = acc_g[l], sgx[l] = acc_gx[l];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) {
      const double gw = double(g[i + l]) * double(w[i + l]);
      sg[l] += gw;
      sgx[l] += gw * (double(x[i + l]) - mean);
    }
  for (int l = 0; i + l < n; ++l) {
    const double gw = double(g[i + l]) * double(w[i + l]);
    sg[l] += gw;
    sgx[l] += gw * (double(x[i + l]) - mean);
  }
  for (int l = 0; l < kLanes; ++l) acc_g[l] = sg[l], acc_gx[l] = sgx[l];
}

template <typename T>
void ln_backward_impl(const T* g, const T* w, const T* x, T* y, int64_t n, T a, T b, T c) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * (g[i] * w[i]) + b * x[i] + c;
}

template <typename T>
void ln_param_grads_impl(const T* g, const T* x, int64_t n, double mean, double rstd, double* acc_w, double* acc_b) {
  for (int64_t i = 0; i < n; ++i) {
    const double gv = double(g[i]);
    acc_w[i] += gv * ((double(x[i]) - mean) * rstd);
    acc_b[i] += gv;
  }
}

// ---- softmax ----
template <typename T>
T row_max_impl(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

// exp for float in a form the compiler vectorizes: x = k ln2 + r with |r| <= ln2/2 (ln2 split in a
// high part exact in float and a low part), exp(r) by its degree-7 Taylor polynomial (truncation
// < 8e-9 relative, well under an ulp; with Horner's roundings the result is within 2 ulp), times
// 2^k built in the exponent bits. At or below -87.3 the result is 0 (exp there is below float's
// normal range); x <= 0 here (x - max).
inline float exp_poly(float x) {
  x = x < -87.3f ? -87.3f : x;
  // k = round(x / ln2) by the 1.5 * 2^23 trick (exact for |k| < 2^22; plain adds, so it vectorizes
  // on every instruction set, unlike roundf).
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - k * 0.693359375f) - k * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (int32_t(k) + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof scale);
  return x <= -87.3f ? 0.0f : p * scale;
}

template <typename T>
double exp_shifted_impl(const T* x, T* y, int64_t n, T m) {
  double s[kLanes] = {};
  int64_t i = 0;
  if constexpr (sizeof(T) == 4) {
    for (int64_t j = 0; j < n; ++j) y[j] = exp_poly(x[j] - m);
  } else {
    for (int64_t j = 0; j < n; ++j) y[j] = std::exp(x[j] - m);
  }
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l) s[l] += double(y[i + l]);
  for (int l = 0; i + l < n; ++l) s[l] += double(y[i + l]);
  double total = 0;
  for (int l = 0; l < kLanes; ++l) total += s[l];
  return total;
}

template <typename T>
void scale_impl(T* y, int64_t n, T s) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

template <typename T>
void shift2_impl(const T* x, T* y, int64_t n, T m, T c) {
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - m) - c;
}

template <typename T>
void gather_impl(const T* __restrict s, int64_t stride, T* __restrict d, int64_t n) {
  if (stride == 2) {
    for (int64_t i = 0; i < n; ++i) d[i] = s[2 * i];
  } else {
    for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
  }
}

// Philox-4x32-10 of tensor/random.cpp, the two words uniform() uses, 53 bits to [0, 1).
template <typename T>
void dropout_mask_impl(uint64_t seed, uint64_t first, double p, T scale, T* y, int64_t n) {
  const uint32_t key0 = uint32_t(seed), key1 = uint32_t(seed >> 32);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t counter = first + uint64_t(i);
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0, k0 = key0, k1 = key1;
#pragma GCC unroll 10
    for (int round = 0; round < 10; ++round) {
      const uint64_t p0 = uint64_t(0xD2511F53u) * c0, p1 = uint64_t(0xCD9E8D57u) * c2;
      const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0, n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
      c1 = uint32_t(p1);
      c3 = uint32_t(p0);
      c0 = n0;
      c2 = n2;
      k0 += 0x9E3779B9u;
      k1 += 0xBB67AE85u;
    }
    const uint64_t bits = (uint64_t(c0) << 32 | c1) >> 11;
    y[i] = double(int64_t(bits)) * (1.0 / 9007199254740992.0) < p ? T(0) : scale;
  }
}

template <typename T>
VecOps<T> make_vec_ops() {
  VecOps<T> v{};
  v.unary = unary_impl<T>;
  v.binary = binary_impl<T>;
  v.compare = compare_impl<T>;
  v.sum_lanes = sum_lanes_impl<T>;
  v.sqdev_lanes = sqdev_lanes_impl<T>;
  v.grad_lanes = grad_lanes_impl<T>;
  v.affine = affine_impl<T>;
  v.affine2 = affine2_impl<T>;
  v.accumulate = accumulate_impl<T>;
  v.ln_forward = ln_forward_impl<T>;
  v.ln_grad_lanes = ln_grad_lanes_impl<T>;
  v.ln_backward = ln_backward_impl<T>;
  v.ln_param_grads = ln_param_grads_impl<T>;
  v.row_max = row_max_impl<T>;
  v.exp_shifted = exp_shifted_impl<T>;
  v.scale = scale_impl<T>;
  v.shift2 = shift2_impl<T>;
  v.gather = gather_impl<T>;
  v.dropout_mask = dropout_mask_impl<T>;
  return v;
}

}  // namespace
}  // namespace cxr::cpu
