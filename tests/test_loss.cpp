// test_loss.cpp — cross_entropy, binary_cross_entropy_with_logits, mse_loss: PyTorch parity
// (tests/goldens/loss.safetensors, from tools/goldens/loss.py), float64 gradcheck (every reduction,
// ignore_index, spatial targets, broadcast pos_weight, non-contiguous inputs), numerical edges and
// error messages.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
const Tolerance kExact{0, 0};
const Tolerance kF32{1e-5, 1e-6};             // a few float32 roundings (mse)
const Tolerance kTranscendental{1e-5, 1e-5};  // exp/log/log1p in float32 (libm vs torch's vectorized exp)

struct Case {
  const char* name;
  OpFn fn;
  Tolerance out = kTranscendental, grad = kTranscendental;
};

Tensor f64(std::vector<double> v, const Shape& shape = {}) { return from_vector(v, shape, {.dtype = DType::Float64}); }
Tensor i64(std::vector<double> v, const Shape& shape = {}) { return from_vector(v, shape, {.dtype = DType::Int64}); }
}  // namespace

TEST_CASE("loss: PyTorch parity") {
  const std::vector<Case> cases = {
      {"ce.mean", [](auto& in) { return cross_entropy(in[0], in[1]); }},
      {"ce.sum", [](auto& in) { return cross_entropy(in[0], in[1], -100, Reduction::Sum); }},
      {"ce.none", [](auto& in) { return cross_entropy(in[0], in[1], -100, Reduction::None); }},
      {"ce.spatial_mean", [](auto& in) { return cross_entropy(in[0], in[1]); }},
      {"ce.spatial_none", [](auto& in) { return cross_entropy(in[0], in[1], -100, Reduction::None); }},
      {"ce.ignore_mean", [](auto& in) { return cross_entropy(in[0], in[1]); }},
      {"ce.ignore_sum", [](auto& in) { return cross_entropy(in[0], in[1], -100, Reduction::Sum); }},
      {"ce.ignore_none", [](auto& in) { return cross_entropy(in[0], in[1], -100, Reduction::None); }},
      {"ce.ignore_custom", [](auto& in) { return cross_entropy(in[0], in[1], 2); }},
      {"ce.all_ignored", [](auto& in) { return cross_entropy(in[0], in[1]); }},  // NaN, zero gradient
      {"ce.large", [](auto& in) { return cross_entropy(in[0], in[1]); }},
      {"ce.transposed", [](auto& in) { return cross_entropy(in[0].t(), in[1]); }},
      {"ce.single", [](auto& in) { return cross_entropy(in[0], in[1]); }},
      {"bce.mean", [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1]); }},
      {"bce.sum", [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::Sum); }},
      {"bce.none", [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::None); }},
      {"bce.pos_weight", [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::Mean, in[2]); }},
      {"bce.pos_weight_none",
       [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::None, in[2]); }},
      {"bce.large", [](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1]); }},
      {"bce.transposed", [](auto& in) { return binary_cross_entropy_with_logits(in[0].t(), in[1]); }},
      {"mse.mean", [](auto& in) { return mse_loss(in[0], in[1]); }, kF32, kF32},
      {"mse.sum", [](auto& in) { return mse_loss(in[0], in[1], Reduction::Sum); }, kF32, kF32},
      {"mse.none", [](auto& in) { return mse_loss(in[0], in[1], Reduction::None); }, kExact, kF32},
      {"mse.transposed", [](auto& in) { return mse_loss(in[0].t(), in[1]); }, kF32, kF32},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) { check_golden("loss", c.name, c.fn, c.out, c.grad); }
  }
}

TEST_CASE("loss: gradcheck of cross_entropy") {
  Tensor x = randn64({5, 4}, 1);
  Tensor t = i64({3, 0, 1, 3, 2});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction ", static_cast<int>(r));
    check_gradcheck([&](auto& in) { return cross_entropy(in[0], t, -100, r); }, {x});
  }
  // ignore_index: the ignored rows get zero gradient and leave the mean's denominator.
  Tensor t_ignored = i64({3, -100, 1, -100, 2});
  check_gradcheck([&](auto& in) { return cross_entropy(in[0], t_ignored); }, {x});
  check_gradcheck([&](auto& in) { return cross_entropy(in[0], t, 3, Reduction::None); }, {x});
  // Spatial (N, C, H, W) logits with (N, H, W) targets, and a non-contiguous (permuted) logits view.
  Tensor xs = randn64({2, 3, 2, 4}, 2);
  Generator gen(3);
  Tensor ts = randint(0, 3, {2, 2, 4}, {.dtype = DType::Int64}, &gen);
  check_gradcheck([&](auto& in) { return cross_entropy(in[0], ts); }, {xs});
  check_gradcheck([&](auto& in) { return cross_entropy(in[0], ts, -100, Reduction::None); }, {xs});
  Tensor xp = randn64({2, 2, 4, 3}, 4);  // (N, H, W, C) storage, viewed as (N, C, H, W)
  check_gradcheck([&](auto& in) { return cross_entropy(in[0].permute({0, 3, 1, 2}), ts, -100, Reduction::Sum); }, {xp});
  Tensor xt = randn64({4, 5}, 5);
  check_gradcheck([&](auto& in) { return cross_entropy(in[0].t(), t); }, {xt});
  // One sample: (C) logits and a 0-dim target.
  Tensor x1 = randn64({6}, 6);
  check_gradcheck([](auto& in) { return cross_entropy(in[0], scalar_tensor(4, {.dtype = DType::Int64})); }, {x1});
  // Large logits: still a smooth function, softmax computed stably.
  check_gradcheck([&](auto& in) { return cross_entropy(in[0] * 40.0, t); }, {x});
}

TEST_CASE("loss: cross_entropy matches its definition and the named backward") {
  // -log_softmax(x)[t], averaged over the non-ignored rows.
  Tensor x = randn({4, 3}, {.dtype = DType::Float64});
  Tensor t = i64({2, -100, 0, 1});
  Tensor ls = log_softmax(x, 1);
  double expected = -(ls.at({0, 2}) + ls.at({2, 0}) + ls.at({3, 1})) / 3;
  CHECK(cross_entropy(x, t).item() == doctest::Approx(expected).epsilon(1e-14));
  Tensor none = cross_entropy(x, t, -100, Reduction::None);
  CHECK(none.shape() == Shape{4});
  CHECK(none.at({1}) == 0.0);
  CHECK(none.at({3}) == doctest::Approx(-ls.at({3, 1})).epsilon(1e-14));
  // The recorded backward is cross_entropy_backward: (softmax - onehot) / 3 on the kept rows.
  Tensor leaf = x.detach().clone().requires_grad_();
  Tensor loss = cross_entropy(leaf, t);
  CHECK(std::string(loss.grad_fn()->name()) == "cross_entropy_backward");
  loss.backward();
  Tensor p = softmax(x, 1);
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(leaf.grad().at({0, c}) == doctest::Approx((p.at({0, c}) - (c == 2)) / 3).epsilon(1e-14));
    CHECK(leaf.grad().at({1, c}) == 0.0);
  }
}

TEST_CASE("loss: cross_entropy at the edges") {
  // All targets ignored: the mean is 0/0 = NaN (as PyTorch), the sum is 0, the gradient is zero.
  Tensor x = randn64({3, 4}, 10);
  Tensor all_ignored = i64({-100, -100, -100});
  Tensor m = cross_entropy(x, all_ignored);
  CHECK(std::isnan(m.item()));
  m.backward();
  CHECK(x.grad().to_vector() == std::vector<double>(12, 0.0));
  CHECK(cross_entropy(x.detach(), all_ignored, -100, Reduction::Sum).item() == 0.0);
  // Large logits: no overflow, exact in the limit.
  Tensor big = tensor({1e4f, 0.f, -1e4f, 0.f, 1e4f, 0.f}).reshape({2, 3});
  std::vector<double> l = cross_entropy(big, i64({0, 0}), -100, Reduction::None).to_vector();
  CHECK(l[0] == 0.0);
  CHECK(l[1] == 1e4f);
  Tensor leaf = big.detach().requires_grad_();
  cross_entropy(leaf, i64({0, 0}), -100, Reduction::Sum).backward();
  CHECK(leaf.grad().to_vector() == std::vector<double>{0, 0, 0, -1, 1, 0});
  // Empty batch: the mean over no positions is NaN, the sum 0.
  Tensor empty_batch = zeros({0, 3});
  CHECK(std::isnan(cross_entropy(empty_batch, zeros({0}, {.dtype = DType::Int64})).item()));
  CHECK(cross_entropy(empty_batch, zeros({0}, {.dtype = DType::Int64}), -100, Reduction::Sum).item() == 0.0);
}

TEST_CASE("loss: gradcheck of binary_cross_entropy_with_logits") {
  Tensor x = randn64({3, 4}, 20), t = uniform64({3, 4}, 0, 1, 21);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction ", static_cast<int>(r));
    check_gradcheck([r](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); }, {x, t});
  }
  // pos_weight (not differentiable) broadcast over the last dim, and over a (3, 1) column.
  Tensor pw = uniform64({4}, 0.5, 3.0, 22).detach();
  Tensor pw_col = uniform64({3, 1}, 0.5, 3.0, 23).detach();
  check_gradcheck([&](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::Mean, pw); }, {x, t});
  check_gradcheck([&](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::None, pw_col); },
                  {x, t});
  // Non-contiguous logits and target; logits spread over both branches of max(x, 0) (no kink at
  // x = 0 in the smooth loss).
  Tensor xw = randn64({4, 3}, 24), tw = uniform64({3, 8}, 0, 1, 25);
  check_gradcheck([](auto& in) { return binary_cross_entropy_with_logits(in[0].t() * 8.0, in[1].slice(1, 0, 8, 2)); },
                  {xw, tw});
  check_gradcheck([&](auto& in) {
    return binary_cross_entropy_with_logits(in[0].t() * 8.0, in[1].slice(1, 1, 8, 2), Reduction::Sum, pw);
  }, {xw, tw});
  // At x = 0 exactly the loss is smooth (the max/abs kinks of the stable form cancel).
  Tensor zero = f64({0, 0}).requires_grad_(), half = f64({0.5, 1}).requires_grad_();
  check_gradcheck([](auto& in) { return binary_cross_entropy_with_logits(in[0], in[1], Reduction::None); }, {zero, half});
}

TEST_CASE("loss: binary_cross_entropy_with_logits at the edges") {
  // Huge |x| stays finite and exact: loss = max(x, 0) - x t + log1p(exp(-|x|)).
  Tensor x = f64({-1000, -1000, 1000, 1000, 0});
  Tensor t = f64({0, 1, 0, 1, 0.5});
  std::vector<double> l = binary_cross_entropy_with_logits(x, t, Reduction::None).to_vector();
  CHECK(l[0] == 0.0);
  CHECK(l[1] == 1000.0);
  CHECK(l[2] == 1000.0);
  CHECK(l[3] == 0.0);
  CHECK(l[4] == doctest::Approx(std::log(2.0)).epsilon(1e-15));
  // pos_weight scales the positive term: t = 1, x = 0 gives pw * log 2.
  Tensor pw = f64({3.0});
  CHECK(binary_cross_entropy_with_logits(f64({0}), f64({1}), Reduction::Sum, pw).item() ==
        doctest::Approx(3 * std::log(2.0)).epsilon(1e-15));
  // Gradients: d/dx = sigmoid(x) - t, d/dt = -x (no pos_weight).
  Tensor xl = f64({-2, 0.5}).requires_grad_(), tl = f64({0.25, 1}).requires_grad_();
  binary_cross_entropy_with_logits(xl, tl, Reduction::Sum).backward();
  CHECK(xl.grad().at({0}) == doctest::Approx(1 / (1 + std::exp(2.0)) - 0.25).epsilon(1e-14));
  CHECK(tl.grad().to_vector() == std::vector<double>{2, -0.5});
  // float32, huge logits: finite.
  Tensor x32 = tensor({-1e30f, 1e30f}), t32 = tensor({1, 0});
  std::vector<double> l32 = binary_cross_entropy_with_logits(x32, t32, Reduction::None).to_vector();
  CHECK(l32[0] == 1e30f);
  CHECK(l32[1] == 1e30f);
}

TEST_CASE("loss: mse_loss") {
  Tensor x = randn64({3, 4}, 30), t = randn64({3, 4}, 31);
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None}) {
    INFO("reduction ", static_cast<int>(r));
    check_gradcheck([r](auto& in) { return mse_loss(in[0], in[1], r); }, {x, t});
  }
  Tensor xt = randn64({4, 3}, 32);
  check_gradcheck([](auto& in) { return mse_loss(in[0].t(), in[1]); }, {xt, t});
  CHECK(mse_loss(f64({1, 2, 4}), f64({1, 0, 1})).item() == doctest::Approx(13.0 / 3).epsilon(1e-15));
  CHECK(mse_loss(f64({1, 2, 4}), f64({1, 0, 1}), Reduction::Sum).item() == 13.0);
  CHECK(std::string(mse_loss(x, t).grad_fn()->name()) == "mean_backward");
  CHECK(std::string(mse_loss(x, t, Reduction::None).grad_fn()->name()) == "mse_loss_backward");
}

TEST_CASE("loss: error messages") {
  Tensor x = randn({4, 5});
  // Targets outside [0, C) name the op, the value and C; ignore_index is not range-checked.
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 7, 1, 2})),
                       doctest::Contains("cross_entropy: target class 7 is out of range for C = 5 classes"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 1, -1, 2})),
                       doctest::Contains("cross_entropy: target class -1 is out of range for C = 5"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 5, 1, 2}), 9),
                       doctest::Contains("target class 5 is out of range for C = 5 classes (valid: 0..4, or ignore_index 9)"),
                       Error);
  CHECK_NOTHROW(cross_entropy(x, i64({0, -7, 1, -7}), -7));
  // Shapes and dtypes.
  CHECK_THROWS_WITH_AS(cross_entropy(x, i64({0, 1, 2})),
                       doctest::Contains("cross_entropy: target shape [3] does not match logits shape [4, 5] "
                                         "(expected target shape [4])"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(randn({2, 3, 4}), i64({0, 1, 2, 0}, {2, 2})),
                       doctest::Contains("target shape [2, 2] does not match logits shape [2, 3, 4] (expected target "
                                         "shape [2, 4])"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({4})), doctest::Contains("cross_entropy: target must hold int64 class "
                                                                       "indices, got float32 [4]"),
                       Error);
  CHECK_THROWS_WITH_AS(cross_entropy(i64({1, 2}, {1, 2}), i64({0})),
                       doctest::Contains("cross_entropy: logits must be floating, got int64 [1, 2]"), Error);
  CHECK_THROWS_WITH_AS(cross_entropy(randn({5}), i64({1})),
                       doctest::Contains("cross_entropy: logits must be (N, C) or (N, C, d1, ...)"), Error);
  // bce / mse: input and target must have one shape and dtype; pos_weight must broadcast.
  Tensor t = rand({4, 5});
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, rand({5, 4})),
                       doctest::Contains("binary_cross_entropy_with_logits: target shape [5, 4] must equal input shape "
                                         "[4, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, t.to(DType::Float64)),
                       doctest::Contains("binary_cross_entropy_with_logits: target dtype float64 does not match input "
                                         "dtype float32"),
                       Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, t, Reduction::Mean, rand({4})),
                       doctest::Contains("binary_cross_entropy_with_logits: shapes [4] and [4, 5] cannot be broadcast"),
                       Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, t, Reduction::Mean, rand({2, 4, 5})),
                       doctest::Contains("pos_weight of shape [2, 4, 5] does not broadcast to logits shape [4, 5]"),
                       Error);
  Tensor pw_grad = rand({5}).requires_grad_();
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, t, Reduction::Mean, pw_grad),
                       doctest::Contains("not differentiable with respect to pos_weight"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(x, randn({4, 1})),
                       doctest::Contains("mse_loss: target shape [4, 1] must equal input shape [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(mse_loss(i64({1}), i64({1})), doctest::Contains("mse_loss: input must be floating, got int64"),
                       Error);
}
