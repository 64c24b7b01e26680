// test_cuda_elementwise.cpp — the CUDA unary, binary, clamp, where, fill and copy kernels against
// the CPU reference (cuda_testing.h): odd shapes, a scalar, empty tensors, transposed and strided
// views, broadcasting, every dtype each kernel takes, forward and backward, twice.
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

using UnaryOpFn = Tensor (*)(const Tensor&);

struct UnaryCase {
  const char* name;
  UnaryOpFn fn;
  double lo, hi;  // input domain (uniform); lo == hi: standard normal
};

const std::vector<UnaryCase>& unary_cases() {
  static const std::vector<UnaryCase> cases = {
      {"neg", [](const Tensor& x) { return neg(x); }, 0, 0},
      {"exp", [](const Tensor& x) { return exp(x); }, 0, 0},
      {"log", [](const Tensor& x) { return log(x); }, 0.1, 4},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.1, 4},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.1, 4},
      {"abs", [](const Tensor& x) { return abs(x); }, 0, 0},
      {"sign", [](const Tensor& x) { return sign(x); }, 0, 0},
      {"relu", [](const Tensor& x) { return relu(x); }, 0, 0},
      {"gelu", [](const Tensor& x) { return gelu(x); }, 0, 0},
      {"tanh", [](const Tensor& x) { return tanh(x); }, 0, 0},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -30, 30},
      {"softplus", [](const Tensor& x) { return softplus(x, 2.0, 5.0); }, -8, 8},
  };
  return cases;
}

Tensor input_for(const UnaryCase& u, const Shape& shape, DType dtype, uint64_t seed) {
  return u.lo == u.hi ? random_input(shape, dtype, seed) : random_uniform(shape, dtype, u.lo, u.hi, seed);
}

Tolerance float_tolerance(DType dtype) {
  // Device math (expf, erff, tanhf...) may differ from glibc's by a few ulp.
  return dtype == DType::Float32 ? Tolerance{2e-6, 1e-6} : Tolerance{1e-13, 1e-14};
}

}  // namespace

TEST_CASE("cuda unary: every op, odd shapes, views, float32 and float64, forward and backward") {
  if (!cuda_ready()) return;
  uint64_t seed = 1;
  for (const UnaryCase& u : unary_cases())
    for (DType dtype : {DType::Float32, DType::Float64}) {
      for (const Shape& shape : odd_shapes()) {
        BackendCase c{case_name(u.name, shape, dtype), {input_for(u, shape, dtype, seed++)},
                      [&](const std::vector<Tensor>& in) { return u.fn(in[0]); }};
        c.forward = c.backward = float_tolerance(dtype);
        check_backend(c);
      }
      // A transposed view and a strided slice: the kernel reads through the strides.
      BackendCase t{case_name(u.name, {6, 5}, dtype, "transposed"), {input_for(u, {6, 5}, dtype, seed++)},
                    [&](const std::vector<Tensor>& in) { return u.fn(in[0].t()); }};
      t.forward = t.backward = float_tolerance(dtype);
      check_backend(t);
      BackendCase s{case_name(u.name, {9, 8}, dtype, "every other row and column"), {input_for(u, {9, 8}, dtype, seed++)},
                    [&](const std::vector<Tensor>& in) { return u.fn(in[0].slice(0, 1, 9, 2).slice(1, 0, 8, 3)); }};
      s.forward = s.backward = float_tolerance(dtype);
      check_backend(s);
    }
}

TEST_CASE("cuda unary: neg, abs and sign of int64") {
  if (!cuda_ready()) return;
  const Tensor x = from_vector({-3, 0, 5, -7, 2, 9}, {2, 3}, {.dtype = DType::Int64});
  for (auto fn : {+[](const Tensor& t) { return neg(t); }, +[](const Tensor& t) { return abs(t); },
                  +[](const Tensor& t) { return sign(t); }}) {
    BackendCase c{"int64 unary", {x}, [fn](const std::vector<Tensor>& in) { return fn(in[0].t()); }};
    c.grad = false;
    check_backend(c);
  }
}

TEST_CASE("cuda binary: arithmetic with broadcasting, scalars and views, float32 and float64") {
  if (!cuda_ready()) return;
  using BinaryOpFn = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<const char*, BinaryOpFn>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 5, 7}, {3, 5, 7}}, {{4, 1, 5}, {3, 5}}, {{5}, {}}, {{}, {6, 2}}, {{0, 3}, {3}}, {{2, 3, 1, 4}, {1, 3, 5, 1}}};
  uint64_t seed = 100;
  for (auto& [name, fn] : ops)
    for (DType dtype : {DType::Float32, DType::Float64})
      for (auto& [sa, sb] : shapes) {
        // div: the divisor away from zero
        Tensor b = std::string(name) == "div" ? random_uniform(sb, dtype, 0.5, 2, seed++) : random_input(sb, dtype, seed++);
        BackendCase c{std::string(name) + " " + shape_str(sa) + " " + shape_str(sb) + " " + dtype_name(dtype),
                      {random_input(sa, dtype, seed++), b},
                      [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); }};
        c.forward = c.backward = float_tolerance(dtype);
        check_backend(c);
      }
  // pow (positive bases), a transposed operand against a contiguous one, scalar operands.
  for (DType dtype : {DType::Float32, DType::Float64}) {
    BackendCase p{"pow", {random_uniform({4, 6}, dtype, 0.5, 2, 7), random_uniform({6, 4}, dtype, -2, 2, 8)},
                  [](const std::vector<Tensor>& in) { return pow(in[0], in[1].t()); }};
    p.forward = p.backward = float_tolerance(dtype);
    check_backend(p);
    BackendCase s{"scalar operands", {random_input({5, 3}, dtype, 9)},
                  [](const std::vector<Tensor>& in) { return (in[0] * 2.5 + 1.0) / 3.0 - pow(in[0], 2.0); }};
    s.forward = s.backward = float_tolerance(dtype);
    check_backend(s);
  }
}

TEST_CASE("cuda binary: int64 arithmetic and every comparison") {
  if (!cuda_ready()) return;
  const Tensor a = from_vector({-3, 0, 5, -7, 2, 9}, {2, 3}, {.dtype = DType::Int64});
  const Tensor b = from_vector({2, 4, -1}, {3}, {.dtype = DType::Int64});
  for (auto fn : {+[](const Tensor& x, const Tensor& y) { return add(x, y); },
                  +[](const Tensor& x, const Tensor& y) { return mul(x, y); },
                  +[](const Tensor& x, const Tensor& y) { return maximum(x, y); }}) {
    BackendCase c{"int64 binary", {a, b}, [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); }};
    c.grad = false;
    check_backend(c);
  }
  for (DType dtype : {DType::Float32, DType::Int64}) {
    const Tensor x = random_input({4, 5}, DType::Float64, 11).to(dtype), y = random_input({5}, DType::Float64, 12).to(dtype);
    for (auto fn : {+[](const Tensor& p, const Tensor& q) { return eq(p, q); }, +[](const Tensor& p, const Tensor& q) { return ne(p, q); },
                    +[](const Tensor& p, const Tensor& q) { return lt(p, q); }, +[](const Tensor& p, const Tensor& q) { return le(p, q); },
                    +[](const Tensor& p, const Tensor& q) { return gt(p, q); }, +[](const Tensor& p, const Tensor& q) { return ge(p, q); }}) {
      BackendCase c{"comparison", {x, y}, [fn](const std::vector<Tensor>& in) { return fn(in[0], in[1]); }};
      c.grad = false;
      check_backend(c);
    }
  }
}

TEST_CASE("cuda: NaN propagates through maximum, minimum and clamp as on the CPU") {
  if (!cuda_ready()) return;
  const Tensor a = from_vector({NAN, 1, -2, INFINITY, 3}), b = from_vector({0, NAN, -3, 1, -INFINITY});
  BackendCase c{"nan max/min/clamp", {a, b},
                [](const std::vector<Tensor>& in) {
                  return maximum(in[0], in[1]) + minimum(in[0], in[1]) + clamp(in[0], -1.0, 2.0);
                }};
  c.grad = false;
  check_backend(c);
}

TEST_CASE("cuda clamp, where and masked_fill, with broadcasting and gradients") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    BackendCase c{"clamp", {random_input({5, 7}, dtype, 21)},
                  [](const std::vector<Tensor>& in) { return clamp(in[0].t(), -0.5, 0.75) + sum(clamp(in[0], std::nullopt, 0.1)); }};
    check_backend(c);
    const Tensor cond = gt(random_input({4, 1, 6}, DType::Float64, 22), zeros({}, {DType::Float64}));
    BackendCase w{"where", {random_input({3, 6}, dtype, 23), random_input({4, 3, 1}, dtype, 24), cond},
                  [](const std::vector<Tensor>& in) {
                    const Tensor picked = where(in[2], in[0], in[1]);  // (4, 3, 6): the mask broadcasts to it
                    return picked + masked_fill(picked, in[2], 9.0);
                  }};
    check_backend(w);
  }
  BackendCase i{"clamp int64 with infinite bounds", {from_vector({-5, 3, 12}, {3}, {.dtype = DType::Int64})},
                [](const std::vector<Tensor>& in) { return clamp(in[0], -INFINITY, 4.0); }};
  i.grad = false;
  check_backend(i);
}

TEST_CASE("cuda fill and copy: creation, every dtype conversion, strided destinations, both directions") {
  if (!cuda_ready()) return;
  const std::vector<DType> dtypes = {DType::Float32, DType::Float64, DType::Int64, DType::Bool};
  const Tensor values = from_vector({-2.75, 0, 1.5, 3e10, NAN, -INFINITY, 7, 0.25}, {2, 4}, {.dtype = DType::Float64});
  for (DType from : dtypes)
    for (DType to : dtypes) {
      const Tensor src = values.to(from);
      BackendCase c{std::string("copy ") + dtype_name(from) + " -> " + dtype_name(to), {src},
                    [to](const std::vector<Tensor>& in) { return in[0].t().to(to); }};
      c.grad = false;
      check_backend(c);
    }
  for (DType dtype : dtypes) {
    BackendCase f{std::string("full/zeros/ones ") + dtype_name(dtype), {zeros({3}, {dtype})},
                  [dtype](const std::vector<Tensor>& in) {
                    const Device d = in[0].device();
                    return cat({full({2, 3}, 1.75, {dtype, d}), zeros({1, 3}, {dtype, d}), ones({1, 3}, {dtype, d}), in[0].unsqueeze(0)});
                  }};
    f.grad = false;
    check_backend(f);
  }
  // copy_ into a strided device view, from the host and from the device.
  const Tensor host = random_input({3, 4}, DType::Float32, 31);
  Tensor dev = zeros({4, 6}, {.device = Device::CUDA});
  copy_(dev.slice(1, 0, 6, 2).t(), host);       // host -> strided device view
  Tensor back = zeros({3, 4});
  copy_(back, dev.slice(1, 0, 6, 2).t());        // strided device view -> host
  check_close(back, host, {0, 0}, "host -> strided device view -> host");
  Tensor odd = zeros({4, 3}, {.dtype = DType::Float64});
  copy_(odd.t(), dev.slice(1, 0, 6, 2).t());     // device float32 view -> strided float64 host view
  check_close(odd.t(), host, {0, 0}, "device -> strided host view with conversion");
}

TEST_CASE("cuda: to(Device) is differentiable, item and to_vector read device tensors") {
  if (!cuda_ready()) return;
  Tensor x = random_input({3, 4}, DType::Float64, 41).requires_grad_();
  Tensor y = sum(x.to(Device::CUDA) * 3.0);
  CHECK(y.device() == Device::CUDA);
  CHECK(y.item() == doctest::Approx(sum(x.detach() * 3.0).item()));
  y.backward();
  REQUIRE(x.grad().defined());
  CHECK(x.grad().device() == Device::CPU);
  check_close(x.grad(), full({3, 4}, 3.0, {.dtype = DType::Float64}), {0, 0}, "gradient moved back to the CPU");
  Tensor d = arange(6, {.device = Device::CUDA}).view({2, 3});
  CHECK(d.at({1, 2}) == 5);
  d.set({0, 1}, 42);
  CHECK(d.to_vector() == std::vector<double>{0, 42, 2, 3, 4, 5});
  CHECK(randn({5}, {.device = Device::CUDA}, nullptr).device() == Device::CUDA);
  Generator g1(7), g2(7);
  check_close(randn({16}, {.device = Device::CUDA}, &g1), randn({16}, {}, &g2), {0, 0},
              "random init: the same Philox numbers on both devices");
}
