// test_elementwise.cpp — every pointwise op: PyTorch parity (tests/goldens/elementwise.safetensors,
// from tools/goldens/elementwise.py) and float64 gradcheck, with broadcast and non-contiguous cases.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
const Tolerance kExact{0, 0};
const Tolerance kF32{1e-5, 1e-6};       // one or two float32 roundings
const Tolerance kTranscendental{1e-5, 1e-5};

struct Case {
  const char* name;
  OpFn fn;
  Tolerance out = kF32, grad = kF32;
};
}  // namespace

TEST_CASE("elementwise: PyTorch parity") {
  const std::vector<Case> cases = {
      {"add.broadcast", [](auto& in) { return in[0] + in[1]; }},
      {"add.transposed", [](auto& in) { return in[0].t() + in[1]; }},
      {"sub.broadcast", [](auto& in) { return in[0] - in[1]; }},
      {"mul.broadcast", [](auto& in) { return in[0] * in[1]; }},
      {"div.broadcast", [](auto& in) { return in[0] / in[1]; }},
      {"pow.tensor", [](auto& in) { return pow(in[0], in[1]); }, kTranscendental, kTranscendental},
      {"pow.scalar", [](auto& in) { return pow(in[0], 3.0); }},
      {"maximum.broadcast", [](auto& in) { return maximum(in[0], in[1]); }},
      {"minimum.broadcast", [](auto& in) { return minimum(in[0], in[1]); }},
      {"neg", [](auto& in) { return -in[0]; }, kExact, kExact},
      {"exp", [](auto& in) { return exp(in[0]); }, kTranscendental, kTranscendental},
      {"log", [](auto& in) { return log(in[0]); }, kTranscendental, kTranscendental},
      {"sqrt", [](auto& in) { return sqrt(in[0]); }},
      {"rsqrt", [](auto& in) { return rsqrt(in[0]); }},
      {"abs", [](auto& in) { return abs(in[0]); }, kExact, kExact},
      {"clamp", [](auto& in) { return clamp(in[0], -0.5, 0.7); }, kExact, kExact},
      {"clamp.min_only", [](auto& in) { return clamp(in[0], 0.1, std::nullopt); }, kExact, kExact},
      {"relu.transposed", [](auto& in) { return relu(in[0].t()); }, kExact, kExact},
      {"gelu", [](auto& in) { return gelu(in[0]); }, kTranscendental, kTranscendental},
      {"tanh", [](auto& in) { return tanh(in[0]); }, kTranscendental, kTranscendental},
      {"sigmoid", [](auto& in) { return sigmoid(in[0]); }, kTranscendental, kTranscendental},
      {"softplus", [](auto& in) { return softplus(in[0]); }, kTranscendental, kTranscendental},
      {"softplus.beta", [](auto& in) { return softplus(in[0], 2.0, 5.0); }, kTranscendental, kTranscendental},
      {"lt", [](auto& in) { return lt(in[0], in[1]); }, kExact},
      {"ge", [](auto& in) { return ge(in[0], in[1]); }, kExact},
      {"gt", [](auto& in) { return gt(in[0], in[1]); }, kExact},
      {"le", [](auto& in) { return le(in[0], in[1]); }, kExact},
      {"eq.ties", [](auto& in) { return eq(in[0], in[1]); }, kExact},
      {"ne.ties", [](auto& in) { return ne(in[0], in[1]); }, kExact},
      {"where.broadcast", [](auto& in) { return where(in[0], in[1], in[2]); }, kExact, kExact},
      {"masked_fill", [](auto& in) { return masked_fill(in[0], in[1], -1e4); }, kExact, kExact},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) { check_golden("elementwise", c.name, c.fn, c.out, c.grad); }
  }
}

TEST_CASE("elementwise: gradcheck of binary ops with broadcasting and strided inputs") {
  Tensor a = randn64({3, 1, 4}, 1), b = randn64({5, 1}, 2);
  Tensor pos = uniform64({5, 1}, 0.5, 2.0, 3);
  check_gradcheck([](auto& in) { return in[0] + in[1]; }, {a, b});
  check_gradcheck([](auto& in) { return in[0] - in[1]; }, {a, b});
  check_gradcheck([](auto& in) { return in[0] * in[1]; }, {a, b});
  check_gradcheck([](auto& in) { return in[0] / in[1]; }, {a, pos});
  check_gradcheck([](auto& in) { return pow(in[1], in[0]); }, {a, pos});
  check_gradcheck([](auto& in) { return pow(in[0], 3.0); }, {a});
  check_gradcheck([](auto& in) { return pow(in[0], -1.5); }, {pos});
  // maximum/minimum away from ties (inputs differ by construction).
  Tensor c = randn64({4, 3}, 4);
  Tensor d = (c.detach() + 0.5).requires_grad_();
  Tensor d2 = (c.detach() - uniform64({4, 3}, 0.2, 1.0, 5).detach()).requires_grad_();
  check_gradcheck([](auto& in) { return maximum(in[0], in[1]); }, {c, d});
  check_gradcheck([](auto& in) { return minimum(in[0], in[1]); }, {c, d2});
  // Non-contiguous: a transposed and a sliced operand.
  Tensor m = randn64({4, 6}, 6), n = randn64({2, 4}, 7);
  check_gradcheck([](auto& in) { return in[0].slice(1, 0, 6, 3) * in[1].t(); }, {m, n});
}

TEST_CASE("elementwise: gradcheck of unary ops") {
  Tensor x = randn64({3, 4}, 10);
  Tensor pos = uniform64({3, 4}, 0.2, 3.0, 11);
  // Inputs kept away from kinks: |x| > 0.05 for relu/abs/clamp.
  Tensor away = (sign(x.detach()) * (abs(x.detach()) + 0.05)).requires_grad_();
  check_gradcheck([](auto& in) { return -in[0]; }, {x});
  check_gradcheck([](auto& in) { return exp(in[0]); }, {x});
  check_gradcheck([](auto& in) { return log(in[0]); }, {pos});
  check_gradcheck([](auto& in) { return sqrt(in[0]); }, {pos});
  check_gradcheck([](auto& in) { return rsqrt(in[0]); }, {pos});
  check_gradcheck([](auto& in) { return abs(in[0]); }, {away});
  check_gradcheck([](auto& in) { return relu(in[0]); }, {away});
  check_gradcheck([](auto& in) { return clamp(in[0], -0.5, 0.6); }, {away});  // x never within 1e-6 of a bound
  check_gradcheck([](auto& in) { return gelu(in[0]); }, {x});
  check_gradcheck([](auto& in) { return tanh(in[0]); }, {x});
  check_gradcheck([](auto& in) { return sigmoid(in[0]); }, {x});
  check_gradcheck([](auto& in) { return softplus(in[0]); }, {x});
  check_gradcheck([](auto& in) { return softplus(in[0] * 10.0, 2.0, 5.0); }, {x});  // both regimes
  check_gradcheck([](auto& in) { return sign(in[0]); }, {away});
  // Non-contiguous input.
  Tensor big = randn64({4, 5}, 12);
  check_gradcheck([](auto& in) { return tanh(in[0].t()) * sigmoid(in[0].t()); }, {big});
}

TEST_CASE("elementwise: gradcheck of where and masked_fill") {
  Tensor cond = gt(randn({3, 4}, {.dtype = DType::Float64}), scalar_tensor(0, {.dtype = DType::Float64}));
  Tensor a = randn64({4}, 20), b = randn64({3, 1}, 21), x = randn64({3, 4}, 22);
  check_gradcheck([&](auto& in) { return where(cond, in[0], in[1]); }, {a, b});
  check_gradcheck([&](auto& in) { return masked_fill(in[0], cond.narrow(0, 0, 1), 3.0); }, {x});
}

TEST_CASE("elementwise: kinks are detected and checked as subgradients") {
  // relu, abs and clamp evaluated exactly at their kinks: the analytic gradient must lie between
  // the one-sided differences (relu'(0) = 0, |x|'(0) = 0, clamp passes g at the bound).
  Tensor at_kinks = from_vector({0.0, 1.0, -1.0, 0.0}, {4}, {.dtype = DType::Float64}).requires_grad_();
  check_gradcheck([](auto& in) { return relu(in[0]); }, {at_kinks}, 2);
  check_gradcheck([](auto& in) { return abs(in[0]); }, {at_kinks}, 2);
  check_gradcheck([](auto& in) { return clamp(in[0], -1.0, 1.0); }, {at_kinks}, 2);
  Tensor tie = from_vector({1.0, 2.0}, {2}, {.dtype = DType::Float64}).requires_grad_();
  Tensor tie2 = from_vector({1.0, 3.0}, {2}, {.dtype = DType::Float64}).requires_grad_();
  check_gradcheck([](auto& in) { return maximum(in[0], in[1]); }, {tie, tie2}, 2);  // element 0 ties
}

TEST_CASE("elementwise: values at the edges") {
  // Stable sigmoid and softplus for large |x|.
  Tensor x = tensor({-1000, -50, 0, 50, 1000}, {.dtype = DType::Float64});
  std::vector<double> s = sigmoid(x).to_vector();
  CHECK(s[0] == 0.0);
  CHECK(s[2] == 0.5);
  CHECK(s[4] == 1.0);
  std::vector<double> sp = softplus(x).to_vector();
  CHECK(sp[0] == 0.0);
  CHECK(sp[4] == 1000.0);
  CHECK(std::isfinite(sp[3]));
  // Integer arithmetic stays integer; comparisons give bool.
  Tensor i = arange(0, 4, 1, {.dtype = DType::Int64});
  CHECK((i * i).to_vector() == std::vector<double>{0, 1, 4, 9});
  CHECK(lt(i, scalar_tensor(2, {.dtype = DType::Int64})).dtype() == DType::Bool);
  CHECK_THROWS_WITH_AS(div(i, i), doctest::Contains("div: needs floating"), Error);
  // maximum propagates NaN.
  CHECK(std::isnan(maximum(tensor({NAN}), tensor({1})).item()));
}
