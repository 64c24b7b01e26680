// elementwise.cpp — pointwise ops. For each: the forward, the derivative (math comment), the
// named backward node, and the reference CPU kernel at the bottom of the file.
// Broadcasting: inputs are expanded (stride-0 views) to the output shape before the kernel runs;
// each backward sums its gradient back to its input's shape with sum_to.
#include <cmath>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

// ---- drivers: allocate the output, broadcast, call the device's kernel ----
static Tensor expanded(const Tensor& t, const Shape& shape) { return t.detach().expand(shape); }

static void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  CXR_CHECK(a.device() == b.device(), op, ": tensors on different devices (", device_name(a.device()), " vs ",
            device_name(b.device()), ")");
}

static const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "maximum", "minimum",
                                "eq",  "ne",  "lt",  "le",  "gt",  "ge"};
  return names[static_cast<int>(op)];
}

static bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

static Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  const OpScope op_scope(name);
  check_same_device(a, b, name);
  CXR_CHECK(a.dtype() == b.dtype(), name, ": dtype mismatch: ", dtype_name(a.dtype()), " ",
            shape_str(a.shape()), " vs ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
            " (convert one with .to())");
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, {is_comparison(op) ? DType::Bool : a.dtype(), a.device()});
  binary_kernel(a.device())(op, expanded(a, shape), expanded(b, shape), out);
  return out;
}

static const char* unary_name(UnaryOp op) {
  static const char* names[] = {"neg",  "exp",     "log",      "sqrt",      "rsqrt",     "abs",
                                "sign", "relu",    "gelu",     "tanh",      "sigmoid",   "softplus",
                                "relu_mask", "gelu_derivative"};
  return names[static_cast<int>(op)];
}

static Tensor unary_op(UnaryOp op, const Tensor& x, UnaryParams params = {}) {
  const OpScope op_scope(unary_name(op));
  Tensor out = empty(x.shape(), x.options());
  unary_kernel(x.device())(op, x, out, params);
  return out;
}

static Tensor scalar_like(double v, const Tensor& t) { return scalar_tensor(v, t.options()); }

// ---- arithmetic ----
// add: y = a + b          ga = g, gb = g
struct AddBackward final : Node {
  Shape a_shape, b_shape;
  AddBackward(Shape a, Shape b) : a_shape(std::move(a)), b_shape(std::move(b)) {}
  const char* name() const override { return "add_backward"; }
  TensorList backward(const Tensor& g) override { return {sum_to(g, a_shape), sum_to(g, b_shape)}; }
};
Tensor add(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("add");
  Tensor out = binary_op(BinaryOp::Add, a, b);
  record_op<AddBackward>(out, {a, b}, {}, a.shape(), b.shape());
  return out;
}

// sub: y = a - b          ga = g, gb = -g
struct SubBackward final : Node {
  Shape a_shape, b_shape;
  SubBackward(Shape a, Shape b) : a_shape(std::move(a)), b_shape(std::move(b)) {}
  const char* name() const override { return "sub_backward"; }
  TensorList backward(const Tensor& g) override { return {sum_to(g, a_shape), sum_to(neg(g), b_shape)}; }
};
Tensor sub(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("sub");
  Tensor out = binary_op(BinaryOp::Sub, a, b);
  record_op<SubBackward>(out, {a, b}, {}, a.shape(), b.shape());
  return out;
}

// mul: y = a * b          ga = g * b, gb = g * a
struct MulBackward final : Node {
  const char* name() const override { return "mul_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &a = saved(0), &b = saved(1);
    return {sum_to(g * b, a.shape()), sum_to(g * a, b.shape())};
  }
};
Tensor mul(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("mul");
  Tensor out = binary_op(BinaryOp::Mul, a, b);
  record_op<MulBackward>(out, {a, b}, {a, b});
  return out;
}

// div: y = a / b          ga = g / b, gb = -g * a / b^2
struct DivBackward final : Node {
  const char* name() const override { return "div_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &a = saved(0), &b = saved(1);
    return {sum_to(g / b, a.shape()), sum_to(neg(g * a / (b * b)), b.shape())};
  }
};
Tensor div(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("div");
  CXR_CHECK(is_floating(a.dtype()), "div: needs floating tensors, got ", dtype_name(a.dtype()),
            " (convert with .to(DType::Float32))");
  Tensor out = binary_op(BinaryOp::Div, a, b);
  record_op<DivBackward>(out, {a, b}, {a, b});
  return out;
}

// pow: y = a^b            ga = g * b * a^(b-1), gb = g * y * log(a)  (gb = 0 where a = 0, b >= 0)
struct PowBackward final : Node {
  const char* name() const override { return "pow_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &a = saved(0), &b = saved(1), &y = saved(2);
    Tensor ga = g * b * pow(a, b - 1.0);
    Tensor gb = where(logical_and(eq(a, scalar_like(0, a)), ge(b, scalar_like(0, b))), scalar_like(0, g), g * y * log(a));
    return {sum_to(ga, a.shape()), sum_to(gb, b.shape())};
  }
};
Tensor pow(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("pow");
  CXR_CHECK(is_floating(a.dtype()), "pow: needs floating tensors, got ", dtype_name(a.dtype()));
  Tensor out = binary_op(BinaryOp::Pow, a, b);
  record_op<PowBackward>(out, {a, b}, {a, b, out});
  return out;
}

// pow by a constant: y = x^e    gx = g * e * x^(e-1)   (0 when e = 0)
struct PowScalarBackward final : Node {
  double exponent;
  explicit PowScalarBackward(double e) : exponent(e) {}
  const char* name() const override { return "pow_scalar_backward"; }
  TensorList backward(const Tensor& g) override {
    if (exponent == 0) return {zeros_like(g)};
    return {g * exponent * pow(saved(0), exponent - 1)};
  }
};
Tensor pow(const Tensor& x, double exponent) {
  const OpScope op_scope("pow");
  CXR_CHECK(is_floating(x.dtype()), "pow: needs a floating tensor, got ", dtype_name(x.dtype()));
  Tensor out = binary_op(BinaryOp::Pow, x, scalar_like(exponent, x));
  record_op<PowScalarBackward>(out, {x}, {x}, exponent);
  return out;
}

// maximum/minimum: y = max(a, b)   the winner gets g; ties split g evenly (as PyTorch)
struct ExtremumBackward final : Node {
  bool is_max;
  explicit ExtremumBackward(bool m) : is_max(m) {}
  const char* name() const override { return is_max ? "maximum_backward" : "minimum_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &a = saved(0), &b = saved(1);
    Tensor zero = scalar_like(0, g);
    Tensor half = where(eq(a, b), g * 0.5, g);
    Tensor a_wins = is_max ? gt(a, b) : lt(a, b), b_wins = is_max ? lt(a, b) : gt(a, b);
    Tensor ga = where(b_wins, zero, half), gb = where(a_wins, zero, half);
    return {sum_to(ga, a.shape()), sum_to(gb, b.shape())};
  }
};
Tensor maximum(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("maximum");
  Tensor out = binary_op(BinaryOp::Maximum, a, b);
  record_op<ExtremumBackward>(out, {a, b}, {a, b}, true);
  return out;
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("minimum");
  Tensor out = binary_op(BinaryOp::Minimum, a, b);
  record_op<ExtremumBackward>(out, {a, b}, {a, b}, false);
  return out;
}

// ---- unary ----
// neg: y = -x             gx = -g
struct NegBackward final : Node {
  const char* name() const override { return "neg_backward"; }
  TensorList backward(const Tensor& g) override { return {neg(g)}; }
};
Tensor neg(const Tensor& x) {
  const OpScope op_scope("neg");
  Tensor out = unary_op(UnaryOp::Neg, x);
  record_op<NegBackward>(out, {x}, {});
  return out;
}

// exp: y = e^x            gx = g * y
struct ExpBackward final : Node {
  const char* name() const override { return "exp_backward"; }
  TensorList backward(const Tensor& g) override { return {g * saved(0)}; }
};
Tensor exp(const Tensor& x) {
  const OpScope op_scope("exp");
  Tensor out = unary_op(UnaryOp::Exp, x);
  record_op<ExpBackward>(out, {x}, {out});
  return out;
}

// log: y = ln x           gx = g / x
struct LogBackward final : Node {
  const char* name() const override { return "log_backward"; }
  TensorList backward(const Tensor& g) override { return {g / saved(0)}; }
};
Tensor log(const Tensor& x) {
  const OpScope op_scope("log");
  Tensor out = unary_op(UnaryOp::Log, x);
  record_op<LogBackward>(out, {x}, {x});
  return out;
}

// sqrt: y = x^(1/2)       gx = g / (2y)
struct SqrtBackward final : Node {
  const char* name() const override { return "sqrt_backward"; }
  TensorList backward(const Tensor& g) override { return {g / (2.0 * saved(0))}; }
};
Tensor sqrt(const Tensor& x) {
  const OpScope op_scope("sqrt");
  Tensor out = unary_op(UnaryOp::Sqrt, x);
  record_op<SqrtBackward>(out, {x}, {out});
  return out;
}

// rsqrt: y = x^(-1/2)     gx = -g * y^3 / 2
struct RsqrtBackward final : Node {
  const char* name() const override { return "rsqrt_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& y = saved(0);
    return {g * y * y * y * -0.5};
  }
};
Tensor rsqrt(const Tensor& x) {
  const OpScope op_scope("rsqrt");
  Tensor out = unary_op(UnaryOp::Rsqrt, x);
  record_op<RsqrtBackward>(out, {x}, {out});
  return out;
}

// abs: y = |x|            gx = g * sign(x)   (0 at x = 0: a subgradient)
struct AbsBackward final : Node {
  const char* name() const override { return "abs_backward"; }
  TensorList backward(const Tensor& g) override { return {g * sign(saved(0))}; }
};
Tensor abs(const Tensor& x) {
  const OpScope op_scope("abs");
  Tensor out = unary_op(UnaryOp::Abs, x);
  record_op<AbsBackward>(out, {x}, {x});
  return out;
}

// sign: piecewise constant, gradient 0 everywhere it exists (as PyTorch).
struct SignBackward final : Node {
  const char* name() const override { return "sign_backward"; }
  TensorList backward(const Tensor& g) override { return {zeros_like(g)}; }
};
Tensor sign(const Tensor& x) {
  const OpScope op_scope("sign");
  Tensor out = unary_op(UnaryOp::Sign, x);
  record_op<SignBackward>(out, {x}, {});
  return out;
}

// clamp: y = min(max(x, lo), hi)     gx = g where lo <= x <= hi, else 0 (as PyTorch)
struct ClampBackward final : Node {
  double lo, hi;
  ClampBackward(double l, double h) : lo(l), hi(h) {}
  const char* name() const override { return "clamp_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& x = saved(0);
    Tensor inside = logical_and(ge(x, scalar_like(lo, x)), le(x, scalar_like(hi, x)));
    return {where(inside, g, scalar_like(0, g))};
  }
};
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  const OpScope op_scope("clamp");
  CXR_CHECK(min || max, "clamp: at least one of min and max must be given");
  double lo = min.value_or(-INFINITY), hi = max.value_or(INFINITY);
  Tensor out = empty(x.shape(), x.options());
  clamp_kernel(x.device())(x, out, lo, hi);
  record_op<ClampBackward>(out, {x}, {x}, lo, hi);
  return out;
}

// relu: y = max(x, 0)     gx = g * [x > 0]   (0 at x = 0)
struct ReluBackward final : Node {
  const char* name() const override { return "relu_backward"; }
  TensorList backward(const Tensor& g) override { return {g * unary_op(UnaryOp::ReluMask, saved(0))}; }
};
Tensor relu(const Tensor& x) {
  const OpScope op_scope("relu");
  Tensor out = unary_op(UnaryOp::Relu, x);
  record_op<ReluBackward>(out, {x}, {x});
  return out;
}

// gelu: y = x Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2
//       gx = g * (Phi(x) + x phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi)
struct GeluBackward final : Node {
  const char* name() const override { return "gelu_backward"; }
  TensorList backward(const Tensor& g) override { return {g * unary_op(UnaryOp::GeluDerivative, saved(0))}; }
};
Tensor gelu(const Tensor& x) {
  const OpScope op_scope("gelu");
  Tensor out = unary_op(UnaryOp::Gelu, x);
  record_op<GeluBackward>(out, {x}, {x});
  return out;
}

// tanh: y = tanh x        gx = g * (1 - y^2)
struct TanhBackward final : Node {
  const char* name() const override { return "tanh_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& y = saved(0);
    return {g * (1.0 - y * y)};
  }
};
Tensor tanh(const Tensor& x) {
  const OpScope op_scope("tanh");
  Tensor out = unary_op(UnaryOp::Tanh, x);
  record_op<TanhBackward>(out, {x}, {out});
  return out;
}

// sigmoid: y = 1 / (1 + e^-x)   gx = g * y * (1 - y)
struct SigmoidBackward final : Node {
  const char* name() const override { return "sigmoid_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& y = saved(0);
    return {g * y * (1.0 - y)};
  }
};
Tensor sigmoid(const Tensor& x) {
  const OpScope op_scope("sigmoid");
  Tensor out = unary_op(UnaryOp::Sigmoid, x);
  record_op<SigmoidBackward>(out, {x}, {out});
  return out;
}

// softplus: y = log(1 + e^(beta x)) / beta, or x where beta x > threshold (linear regime)
//           gx = g * sigmoid(beta x), or g in the linear regime
struct SoftplusBackward final : Node {
  double beta, threshold;
  SoftplusBackward(double b, double t) : beta(b), threshold(t) {}
  const char* name() const override { return "softplus_backward"; }
  TensorList backward(const Tensor& g) override {
    Tensor bx = saved(0) * beta;
    return {where(gt(bx, scalar_like(threshold, bx)), g, g * sigmoid(bx))};
  }
};
Tensor softplus(const Tensor& x, double beta, double threshold) {
  const OpScope op_scope("softplus");
  Tensor out = unary_op(UnaryOp::Softplus, x, {beta, threshold});
  record_op<SoftplusBackward>(out, {x}, {x}, beta, threshold);
  return out;
}

// ---- comparisons, where, masked_fill ----
Tensor eq(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::Ge, a, b); }

Tensor logical_and(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("logical_and");
  CXR_CHECK(a.dtype() == DType::Bool && b.dtype() == DType::Bool, "logical_and: expects bool tensors, got ",
            dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  return where(a, b, scalar_tensor(0, {DType::Bool, a.device()}));
}
Tensor logical_not(const Tensor& a) {
  const OpScope op_scope("logical_not");
  CXR_CHECK(a.dtype() == DType::Bool, "logical_not: expects a bool tensor, got ", dtype_name(a.dtype()));
  return where(a, scalar_tensor(0, {DType::Bool, a.device()}), scalar_tensor(1, {DType::Bool, a.device()}));
}

// where: y = cond ? a : b      ga = cond ? g : 0,  gb = cond ? 0 : g  (each summed to its shape)
struct WhereBackward final : Node {
  Shape a_shape, b_shape;
  WhereBackward(Shape a, Shape b) : a_shape(std::move(a)), b_shape(std::move(b)) {}
  const char* name() const override { return "where_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor& cond = saved(0);
    Tensor zero = scalar_like(0, g);
    return {sum_to(where(cond, g, zero), a_shape), sum_to(where(cond, zero, g), b_shape)};
  }
};
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  const OpScope op_scope("where");
  CXR_CHECK(cond.dtype() == DType::Bool, "where: condition must be bool, got ", dtype_name(cond.dtype()));
  CXR_CHECK(a.dtype() == b.dtype(), "where: dtype mismatch: ", dtype_name(a.dtype()), " vs ", dtype_name(b.dtype()));
  check_same_device(a, b, "where");
  check_same_device(cond, a, "where");
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(shape, a.options());
  where_kernel(a.device())(expanded(cond, shape), expanded(a, shape), expanded(b, shape), out);
  record_op<WhereBackward>(out, {a, b}, {cond}, a.shape(), b.shape());  // cond: not differentiable
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  const OpScope op_scope("masked_fill");
  CXR_CHECK(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(), "masked_fill: mask of shape ",
            shape_str(mask.shape()), " does not broadcast to the input's shape ", shape_str(x.shape()));
  return where(mask, scalar_like(value, x), x);  // backward: where_backward (gx = mask ? 0 : g)
}

// ---- operators ----
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

// ======================= reference CPU kernels =======================
// One strided loop per kernel; the op switch sits outside the loop, so the body the compiler sees
// is a single expression.

template <typename T>
static T gelu_value(T x) {
  return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2)));
}
template <typename T>
static T gelu_derivative(T x) {
  T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
  T pdf = std::exp(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);  // 1/sqrt(2 pi)
  return cdf + x * pdf;
}
template <typename T>
static T sigmoid_value(T x) {  // never exponentiates a large positive number
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T, typename F>
static void map_unary(const Tensor& x, const Tensor& out, F f) {
  const T* px = x.data<T>();
  T* po = out.data<T>();
  for_each_offset<2>(out.shape(), {out.strides(), x.strides()}, [&](const Offsets<2>& o) { po[o[0]] = f(px[o[1]]); });
}

static void unary_cpu(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) {
  if (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign) {
    visit_numeric(x.dtype(), "unary", [&]<typename T>() {
      if (op == UnaryOp::Neg) map_unary<T>(x, out, [](T v) { return T(-v); });
      if (op == UnaryOp::Abs) map_unary<T>(x, out, [](T v) { return v < 0 ? T(-v) : v; });
      if (op == UnaryOp::Sign) map_unary<T>(x, out, [](T v) { return T((v > 0) - (v < 0)); });
    });
    return;
  }
  visit_floating(x.dtype(), "unary", [&]<typename T>() {
    switch (op) {
      case UnaryOp::Exp: map_unary<T>(x, out, [](T v) { return std::exp(v); }); break;
      case UnaryOp::Log: map_unary<T>(x, out, [](T v) { return std::log(v); }); break;
      case UnaryOp::Sqrt: map_unary<T>(x, out, [](T v) { return std::sqrt(v); }); break;
      case UnaryOp::Rsqrt: map_unary<T>(x, out, [](T v) { return T(1) / std::sqrt(v); }); break;
      case UnaryOp::Relu: map_unary<T>(x, out, [](T v) { return v > 0 ? v : T(0); }); break;
      case UnaryOp::ReluMask: map_unary<T>(x, out, [](T v) { return v > 0 ? T(1) : T(0); }); break;
      case UnaryOp::Gelu: map_unary<T>(x, out, [](T v) { return gelu_value(v); }); break;
      case UnaryOp::GeluDerivative: map_unary<T>(x, out, [](T v) { return gelu_derivative(v); }); break;
      case UnaryOp::Tanh: map_unary<T>(x, out, [](T v) { return std::tanh(v); }); break;
      case UnaryOp::Sigmoid: map_unary<T>(x, out, [](T v) { return sigmoid_value(v); }); break;
      case UnaryOp::Softplus: {
        T beta = T(p.beta), threshold = T(p.threshold);
        map_unary<T>(x, out, [=](T v) { return v * beta > threshold ? v : std::log1p(std::exp(v * beta)) / beta; });
        break;
      }
      default: fail("unary: unhandled op ", static_cast<int>(op));
    }
  });
}

template <typename T, typename R, typename F>
static void map_binary(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  R* po = out.data<R>();
  for_each_offset<3>(out.shape(), {out.strides(), a.strides(), b.strides()},
                     [&](const Offsets<3>& o) { po[o[0]] = f(pa[o[1]], pb[o[2]]); });
}

static void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_numeric(a.dtype(), binary_name(op), [&]<typename T>() {
    switch (op) {
      case BinaryOp::Add: map_binary<T, T>(a, b, out, [](T x, T y) { return T(x + y); }); break;
      case BinaryOp::Sub: map_binary<T, T>(a, b, out, [](T x, T y) { return T(x - y); }); break;
      case BinaryOp::Mul: map_binary<T, T>(a, b, out, [](T x, T y) { return T(x * y); }); break;
      case BinaryOp::Div: map_binary<T, T>(a, b, out, [](T x, T y) { return T(x / y); }); break;
      case BinaryOp::Pow: map_binary<T, T>(a, b, out, [](T x, T y) { return T(std::pow(x, y)); }); break;
      // NaN propagates through maximum/minimum, as in PyTorch.
      case BinaryOp::Maximum: map_binary<T, T>(a, b, out, [](T x, T y) { return x != x || y != y ? T(x + y) : x > y ? x : y; }); break;
      case BinaryOp::Minimum: map_binary<T, T>(a, b, out, [](T x, T y) { return x != x || y != y ? T(x + y) : x < y ? x : y; }); break;
      case BinaryOp::Eq: map_binary<T, bool>(a, b, out, [](T x, T y) { return x == y; }); break;
      case BinaryOp::Ne: map_binary<T, bool>(a, b, out, [](T x, T y) { return x != y; }); break;
      case BinaryOp::Lt: map_binary<T, bool>(a, b, out, [](T x, T y) { return x < y; }); break;
      case BinaryOp::Le: map_binary<T, bool>(a, b, out, [](T x, T y) { return x <= y; }); break;
      case BinaryOp::Gt: map_binary<T, bool>(a, b, out, [](T x, T y) { return x > y; }); break;
      case BinaryOp::Ge: map_binary<T, bool>(a, b, out, [](T x, T y) { return x >= y; }); break;
    }
  });
}

static void clamp_cpu(const Tensor& x, const Tensor& out, double lo, double hi) {
  visit_numeric(x.dtype(), "clamp", [&]<typename T>() {
    // Bounds compared in double so an infinite bound works for int64 too; NaN passes through.
    map_unary<T>(x, out, [=](T v) { return double(v) < lo ? T(lo) : double(v) > hi ? T(hi) : v; });
  });
}

static void where_cpu(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_dtype(a.dtype(), [&]<typename T>() {
    const bool* pc = cond.data<bool>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    for_each_offset<4>(out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()},
                       [&](const Offsets<4>& o) { po[o[0]] = pc[o[1]] ? pa[o[2]] : pb[o[3]]; });
  });
}

KernelTable<UnaryFn> unary_kernel{"unary", {
    .cpu_reference = unary_cpu,
    .cpu_fast = cpu::unary_fast,
    .cuda = CXR_CUDA_KERNEL(unary),
}};
KernelTable<BinaryFn> binary_kernel{"binary", {
    .cpu_reference = binary_cpu,
    .cpu_fast = cpu::binary_fast,
    .cuda = CXR_CUDA_KERNEL(binary),
}};
KernelTable<ClampFn> clamp_kernel{"clamp", {.cpu_reference = clamp_cpu, .cuda = CXR_CUDA_KERNEL(clamp)}};
KernelTable<WhereFn> where_kernel{"where", {.cpu_reference = where_cpu, .cuda = CXR_CUDA_KERNEL(where)}};

}  // namespace cxr
