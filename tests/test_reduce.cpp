// test_reduce.cpp — reductions and dim-wise normalizers: PyTorch parity (tests/goldens/reduce.safetensors,
// from tools/goldens/reduce.py), float64 gradcheck over several dims / keepdim / negative dims /
// non-contiguous inputs, max/min ties (kinks), NaN handling, 0-dim and empty inputs, error messages.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
const Tolerance kExact{0, 0};             // selection (max/min/argmax) and their routed gradients
const Tolerance kF32{1e-5, 1e-6};         // float32 sums: cxrlab accumulates in double, torch in float
const Tolerance kTranscendental{1e-5, 1e-5};  // exp/log in float32 (a few ulp apart between libms)
// var of x + 1000: torch and cxrlab round the float32 mean differently; x - mean then carries an
// absolute error ~ ulp(1000) = 6e-5 on values ~1, so the gradient agrees to ~1e-4 only.
const Tolerance kCancelling{1e-4, 1e-4};

struct Case {
  const char* name;
  OpFn fn;
  Tolerance out = kF32, grad = kF32;
};

Tensor f64(std::vector<double> v, const Shape& shape = {}) {
  return from_vector(v, shape, {.dtype = DType::Float64});
}
}  // namespace

TEST_CASE("reduce: PyTorch parity") {
  const std::vector<Case> cases = {
      {"sum.all", [](auto& in) { return sum(in[0]); }},
      {"sum.dims_keepdim", [](auto& in) { return sum(in[0], {0, 2}, true); }},
      {"sum.negdim", [](auto& in) { return sum(in[0], {-1}); }},
      {"sum.transposed", [](auto& in) { return sum(in[0].t(), {0}); }},
      {"sum.int64", [](auto& in) { return sum(in[0], {1}); }, kExact},
      {"mean.all", [](auto& in) { return mean(in[0]); }},
      {"mean.dims", [](auto& in) { return mean(in[0], {0, -1}); }},
      {"mean.keepdim_sliced", [](auto& in) { return mean(in[0].slice(1, 0, 6, 2), {1}, true); }},
      {"sum_to.broadcast", [](auto& in) { return sum_to(in[0], {3, 1}); }},
      {"max.dim", [](auto& in) { return max(in[0], {1}); }, kExact, kExact},
      {"max.all", [](auto& in) { return max(in[0]); }, kExact, kExact},
      {"max.dims_keepdim", [](auto& in) { return max(in[0], {0, 2}, true); }, kExact, kExact},
      {"max.negdim_transposed", [](auto& in) { return max(in[0].transpose(0, 1), {-1}); }, kExact, kExact},
      {"min.dim", [](auto& in) { return min(in[0], {0}); }, kExact, kExact},
      {"min.dims", [](auto& in) { return min(in[0], {-1, 0}); }, kExact, kExact},
      {"min.sliced_keepdim", [](auto& in) { return min(in[0].slice(0, 0, 6, 2), {1}, true); }, kExact, kExact},
      {"max.nan", [](auto& in) { return max(in[0], {1}); }, kExact, kExact},
      {"max.int64", [](auto& in) { return max(in[0], {0}); }, kExact},
      {"min.int64", [](auto& in) { return min(in[0], {0, 1}); }, kExact},
      {"argmax.dim", [](auto& in) { return argmax(in[0], 1); }, kExact},
      {"argmax.keepdim_negdim", [](auto& in) { return argmax(in[0], -2, true); }, kExact},
      {"argmax.transposed", [](auto& in) { return argmax(in[0].t(), 0); }, kExact},
      {"argmin.dim", [](auto& in) { return argmin(in[0], 0); }, kExact},
      {"argmin.keepdim", [](auto& in) { return argmin(in[0], 2, true); }, kExact},
      {"argmax.ties", [](auto& in) { return argmax(in[0], 2); }, kExact},
      {"argmin.ties", [](auto& in) { return argmin(in[0], 1); }, kExact},
      {"argmax.nan", [](auto& in) { return argmax(in[0], 1); }, kExact},
      {"argmin.nan", [](auto& in) { return argmin(in[0], 1); }, kExact},
      {"argmax.int64", [](auto& in) { return argmax(in[0], 1); }, kExact},
      {"argmin.int64", [](auto& in) { return argmin(in[0], 0); }, kExact},
      {"logsumexp.dim", [](auto& in) { return logsumexp(in[0], {1}); }, kTranscendental, kTranscendental},
      {"logsumexp.dims_keepdim", [](auto& in) { return logsumexp(in[0], {0, 2}, true); }, kTranscendental, kTranscendental},
      {"logsumexp.negdim_transposed", [](auto& in) { return logsumexp(in[0].t(), {-1}); }, kTranscendental, kTranscendental},
      {"logsumexp.large", [](auto& in) { return logsumexp(in[0], {1}); }, kTranscendental, kTranscendental},
      {"var.dim", [](auto& in) { return var(in[0], {1}); }},
      {"var.all", [](auto& in) { return var(in[0]); }},
      {"var.correction0_keepdim", [](auto& in) { return var(in[0], {0, 2}, 0, true); }},
      {"var.correction2_negdim", [](auto& in) { return var(in[0], {-1}, 2); }},
      {"var.transposed", [](auto& in) { return var(in[0].t(), {0}); }},
      {"var.offset", [](auto& in) { return var(in[0] + 1000.0, {1}); }, kF32, kCancelling},
      {"softmax.last", [](auto& in) { return softmax(in[0], -1); }, kTranscendental, kTranscendental},
      {"softmax.dim1_3d", [](auto& in) { return softmax(in[0], 1); }, kTranscendental, kTranscendental},
      {"softmax.transposed", [](auto& in) { return softmax(in[0].t(), 1); }, kTranscendental, kTranscendental},
      {"softmax.large", [](auto& in) { return softmax(in[0], 1); }, kTranscendental, kTranscendental},
      {"log_softmax.last", [](auto& in) { return log_softmax(in[0], -1); }, kTranscendental, kTranscendental},
      {"log_softmax.dim0_3d", [](auto& in) { return log_softmax(in[0], 0); }, kTranscendental, kTranscendental},
      {"log_softmax.sliced", [](auto& in) { return log_softmax(in[0].slice(1, 1, 8, 2), 1); }, kTranscendental, kTranscendental},
      {"log_softmax.large", [](auto& in) { return log_softmax(in[0], 1); }, kTranscendental, kTranscendental},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) { check_golden("reduce", c.name, c.fn, c.out, c.grad); }
  }
}

TEST_CASE("reduce: max/min ties split the gradient evenly, as torch.amax") {
  // Golden rows [1 3 3 0], [2 2 2 2], [-1 5 0 5]: each tied maximum gets g / (number of ties).
  check_golden("reduce", "max.ties_dim", [](auto& in) { return max(in[0], {1}); }, kExact, kExact);
  check_golden("reduce", "max.ties", [](auto& in) { return max(in[0], {1, 2}); }, kExact, kExact);
  check_golden("reduce", "min.ties", [](auto& in) { return min(in[0], {-1}, true); }, kExact, kExact);
  // The same by hand: upstream 1 gives 1/2, 1/4 and 1/2 to the tied entries.
  Tensor x = f64({1, 3, 3, 0, 2, 2, 2, 2, -1, 5, 0, 5}, {3, 4}).requires_grad_();
  sum(max(x, {1})).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{0, 0.5, 0.5, 0, 0.25, 0.25, 0.25, 0.25, 0, 0.5, 0, 0.5});
  // gradcheck at the ties: every tied extreme is a kink (2 + 4 + 2 elements), and the even split
  // must lie between the one-sided differences there.
  Tensor y = f64({1, 3, 3, 0, 2, 2, 2, 2, -1, 5, 0, 5}, {3, 4}).requires_grad_();
  check_gradcheck([](auto& in) { return max(in[0], {1}); }, {y}, 8);
  // min over dim 0 of the transpose is the row-wise min of y: only row [2 2 2 2] ties (4 kinks).
  check_gradcheck([](auto& in) { return min(in[0].t(), {0}); }, {y}, 4);
}

TEST_CASE("reduce: gradcheck of sum, mean and sum_to") {
  Tensor x = randn64({2, 3, 4}, 1);
  check_gradcheck([](auto& in) { return sum(in[0]); }, {x});
  check_gradcheck([](auto& in) { return sum(in[0], {0, 2}); }, {x});
  check_gradcheck([](auto& in) { return sum(in[0], {-1}, true); }, {x});
  check_gradcheck([](auto& in) { return sum(in[0].transpose(0, 2), {1}); }, {x});
  check_gradcheck([](auto& in) { return mean(in[0]); }, {x});
  check_gradcheck([](auto& in) { return mean(in[0], {-3, 1}, true); }, {x});
  check_gradcheck([](auto& in) { return mean(in[0].slice(2, 0, 4, 3), {2}); }, {x});
  check_gradcheck([](auto& in) { return sum_to(in[0], {3, 1}); }, {x});
  check_gradcheck([](auto& in) { return sum_to(in[0], {4}); }, {x});
  check_gradcheck([](auto& in) { return sum_to(in[0], {2, 1, 4}); }, {x});
  // Broadcast input (stride-0 view): each leaf element feeds several reduced elements.
  Tensor b = randn64({3, 1}, 2);
  check_gradcheck([](auto& in) { return sum(in[0].expand({3, 5}), {0}); }, {b});
}

TEST_CASE("reduce: gradcheck of max and min away from ties") {
  // N(0,1) draws: ties have probability zero, so no kinks are expected.
  Tensor x = randn64({3, 4, 5}, 3);
  check_gradcheck([](auto& in) { return max(in[0]); }, {x});
  check_gradcheck([](auto& in) { return max(in[0], {1}); }, {x});
  check_gradcheck([](auto& in) { return max(in[0], {0, 2}, true); }, {x});
  check_gradcheck([](auto& in) { return min(in[0], {-1}); }, {x});
  check_gradcheck([](auto& in) { return min(in[0], {-1, -3}, true); }, {x});
  check_gradcheck([](auto& in) { return max(in[0].transpose(0, 2), {0}); }, {x});
  check_gradcheck([](auto& in) { return min(in[0].slice(1, 1, 4, 2), {1}); }, {x});
}

TEST_CASE("reduce: gradcheck of logsumexp and var") {
  Tensor x = randn64({3, 4, 5}, 4);
  check_gradcheck([](auto& in) { return logsumexp(in[0], {1}); }, {x});
  check_gradcheck([](auto& in) { return logsumexp(in[0], {0, 2}, true); }, {x});
  check_gradcheck([](auto& in) { return logsumexp(in[0], {}); }, {x});  // all dims
  check_gradcheck([](auto& in) { return logsumexp(in[0].transpose(1, 2), {-1}); }, {x});
  check_gradcheck([](auto& in) { return logsumexp(in[0] * 30.0, {-1}); }, {x});  // peaked: stability
  check_gradcheck([](auto& in) { return var(in[0]); }, {x});
  check_gradcheck([](auto& in) { return var(in[0], {1}); }, {x});
  check_gradcheck([](auto& in) { return var(in[0], {0, -1}, 0, true); }, {x});
  check_gradcheck([](auto& in) { return var(in[0], {2}, 2); }, {x});
  check_gradcheck([](auto& in) { return var(in[0].transpose(0, 2), {0}); }, {x});
  check_gradcheck([](auto& in) { return var(in[0].slice(2, 0, 5, 2), {2}, 1, true); }, {x});
  Tensor b = randn64({1, 4}, 5), c = randn64({3, 1}, 7);
  check_gradcheck([](auto& in) { return var(in[0].expand({3, 4}), {0}); }, {b});  // stride-0 input: var 0
  check_gradcheck([](auto& in) { return var(in[0] * in[1], {0, 1}); }, {b, c});   // broadcast product
}

TEST_CASE("reduce: gradcheck of softmax and log_softmax") {
  Tensor x = randn64({3, 4, 5}, 6);
  for (int64_t dim : {0, 1, 2, -1}) {
    INFO("dim ", dim);
    check_gradcheck([dim](auto& in) { return softmax(in[0], dim); }, {x});
    check_gradcheck([dim](auto& in) { return log_softmax(in[0], dim); }, {x});
  }
  check_gradcheck([](auto& in) { return softmax(in[0].transpose(0, 2), 1); }, {x});
  check_gradcheck([](auto& in) { return log_softmax(in[0].slice(2, 1, 5, 2), -1); }, {x});
  check_gradcheck([](auto& in) { return log_softmax(in[0] * 50.0, 1); }, {x});  // near-one-hot rows
  // The named backward functions agree with the recorded ones.
  Tensor g = randn({3, 4, 5}, {.dtype = DType::Float64});
  x.zero_grad();
  Tensor y = softmax(x, 1), ly = log_softmax(x, 1);
  y.backward(g);
  Tensor via_graph = x.grad();
  x.zero_grad();
  ly.backward(g);
  CHECK(allclose(via_graph, softmax_backward(g, y.detach(), 1), 0, 0));
  CHECK(allclose(x.grad(), log_softmax_backward(g, ly.detach(), 1), 0, 0));
  x.zero_grad();
}

TEST_CASE("reduce: argmax and argmin") {
  Tensor x = f64({1, 7, 7, -2, 0, -5, 3, -5}, {2, 4});
  CHECK(argmax(x, 1).to_vector() == std::vector<double>{1, 2});  // first of the tied 7s
  CHECK(argmin(x, 1).to_vector() == std::vector<double>{3, 1});  // first of the tied -5s
  CHECK(argmax(x, 0).to_vector() == std::vector<double>{0, 0, 0, 0});
  CHECK(argmax(x, -1, true).shape() == Shape{2, 1});
  CHECK(argmax(x, 1).dtype() == DType::Int64);
  CHECK(!argmax(x.detach().requires_grad_(), 1).requires_grad());  // not differentiable
  // NaN is the extreme for both, first NaN wins.
  Tensor n = f64({1, NAN, 9, NAN, -9}, {5});
  CHECK(argmax(n, 0).item() == 1);
  CHECK(argmin(n, 0).item() == 1);
  // 0-dim input: index 0 (PyTorch accepts dim 0 / -1 there).
  CHECK(argmax(scalar_tensor(4.0), 0).item() == 0);
  CHECK(argmin(scalar_tensor(4.0), -1).dim() == 0);
  // int64 input.
  Tensor i = from_vector({3, -1, 8, 8}, {4}, {.dtype = DType::Int64});
  CHECK(argmax(i, 0).item() == 2);
  CHECK(argmin(i, 0).item() == 1);
}

TEST_CASE("reduce: values at the edges") {
  // logsumexp and softmax of huge inputs stay finite (the max is subtracted first).
  Tensor big = f64({1000, 1000, -1000});
  CHECK(logsumexp(big, {0}).item() == doctest::Approx(1000 + std::log(2.0)).epsilon(1e-15));
  std::vector<double> s = softmax(big, 0).to_vector();
  CHECK(s[0] == doctest::Approx(0.5));
  CHECK(s[2] == 0.0);
  std::vector<double> ls = log_softmax(big, 0).to_vector();
  CHECK(ls[0] == doctest::Approx(-std::log(2.0)).epsilon(1e-15));
  CHECK(ls[2] == doctest::Approx(-2000 - std::log(2.0)));
  Tensor big32 = tensor({3e4f, 0.f, -3e4f});
  CHECK(std::isfinite(logsumexp(big32, {0}).item()));
  CHECK(softmax(big32, 0).to_vector() == std::vector<double>{1, 0, 0});
  // logsumexp: all -inf gives -inf (max replaced by 0 before the shift), +inf gives +inf.
  CHECK(logsumexp(f64({-INFINITY, -INFINITY}), {0}).item() == -INFINITY);
  CHECK(logsumexp(f64({INFINITY, 1}), {0}).item() == INFINITY);
  // max/min propagate NaN; int64 keeps its type and exact values.
  CHECK(std::isnan(max(f64({1, NAN, 3})).item()));
  CHECK(std::isnan(min(f64({NAN, 1, 3})).item()));
  Tensor big_int = zeros({2}, {.dtype = DType::Int64});
  big_int.data<int64_t>()[0] = (int64_t(1) << 53) + 1;  // not representable as a double
  CHECK(max(big_int).dtype() == DType::Int64);
  CHECK(max(big_int).data<int64_t>()[0] == (int64_t(1) << 53) + 1);
  // var: correction >= N divides by zero (NaN for one element, as PyTorch); correction 0 is biased.
  CHECK(std::isnan(var(f64({3.0}), {0}).item()));
  CHECK(var(f64({1, 2, 3, 4}), {0}, 0).item() == doctest::Approx(1.25));
  CHECK(var(f64({1, 2, 3, 4})).item() == doctest::Approx(5.0 / 3.0));
  // var does not cancel catastrophically for a large mean (two passes).
  CHECK(var(tensor({1e4f + 1, 1e4f + 2, 1e4f + 3})).item() == doctest::Approx(1.0).epsilon(1e-6));
  // keepdim shapes and 0-dim inputs.
  Tensor x = randn({2, 3, 4});
  CHECK(max(x, {0, 2}, true).shape() == Shape{1, 3, 1});
  CHECK(min(x, {-1}).shape() == Shape{2, 3});
  CHECK(logsumexp(x, {1}, true).shape() == Shape{2, 1, 4});
  CHECK(var(x, {0, 1}).shape() == Shape{4});
  CHECK(max(x).dim() == 0);
  Tensor s0 = scalar_tensor(2.5, {.dtype = DType::Float64});
  CHECK(max(s0).item() == 2.5);
  CHECK(sum(s0, {0}).item() == 2.5);
  CHECK(softmax(s0, 0).item() == 1.0);
  CHECK(log_softmax(s0, -1).item() == 0.0);
  // Reductions over non-empty dims of a tensor with an empty dim are fine.
  CHECK(max(zeros({0, 3}), {1}).shape() == Shape{0});
  CHECK(softmax(zeros({3, 0}), 1).shape() == Shape{3, 0});
  CHECK(std::isnan(var(zeros({0, 3}), {0}).to_vector()[0]));  // as PyTorch
}

TEST_CASE("reduce: error messages") {
  Tensor i = arange(0, 6, 1, {.dtype = DType::Int64}).reshape({2, 3});
  CHECK_THROWS_WITH_AS(softmax(i, 1), doctest::Contains("softmax: needs a floating tensor"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(i, 1), doctest::Contains("log_softmax: needs a floating tensor"), Error);
  CHECK_THROWS_WITH_AS(logsumexp(i, {1}), doctest::Contains("logsumexp: needs a floating tensor"), Error);
  CHECK_THROWS_WITH_AS(var(i), doctest::Contains("var: needs a floating tensor (float32 or float64), got int64"), Error);
  CHECK_THROWS_WITH_AS(mean(i), doctest::Contains("mean: needs a floating tensor"), Error);
  // int64 is fine for max/min/argmax.
  CHECK(max(i).item() == 5);
  CHECK(argmin(i, 1).to_vector() == std::vector<double>{0, 0});
  // Reducing over an empty dim has no max.
  Tensor e = zeros({2, 0});
  CHECK_THROWS_WITH_AS(max(e, {1}), doctest::Contains("max: cannot reduce over dim 1 of size 0 in shape [2, 0]"), Error);
  CHECK_THROWS_WITH_AS(min(e), doctest::Contains("min: cannot reduce over dim 1 of size 0"), Error);
  CHECK_THROWS_WITH_AS(argmax(e, -1), doctest::Contains("argmax: cannot reduce over dim 1 of size 0"), Error);
  CHECK_THROWS_WITH_AS(argmin(e, 1), doctest::Contains("argmin: cannot reduce over dim 1"), Error);
  // Dims out of range or repeated.
  Tensor x = randn({2, 3});
  CHECK_THROWS_WITH_AS(max(x, {2}), doctest::Contains("max: dim 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(argmax(x, -3), doctest::Contains("argmax: dim -3 out of range"), Error);
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax: dim 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(var(x, {1, -1}), doctest::Contains("var: dim -1 appears more than once"), Error);
  CHECK_THROWS_WITH_AS(sum_to(x, {4}), doctest::Contains("sum_to: shape [4] does not broadcast to [2, 3]"), Error);
  CHECK_THROWS_WITH_AS(sum_to(x, {1, 2, 3}), doctest::Contains("sum_to: cannot reduce shape [2, 3] to [1, 2, 3]"),
                       Error);
  // bool is not numeric.
  Tensor b = gt(x, scalar_tensor(0));
  CHECK_THROWS_WITH_AS(max(b), doctest::Contains("max: expected a numeric tensor"), Error);
}
