// test_norm.cpp — batch_norm, layer_norm, dropout: PyTorch parity (tests/goldens/norm.safetensors,
// from tools/goldens/norm.py, including batch norm's updated running statistics), float64
// gradchecks (train/eval, with/without affine, 2-D/4-D, non-contiguous and stride-0 operands),
// the closed-form backwards against autograd through the composite formula, dropout's
// randomness (determinism by seed, rate, scaling), in-place running-stat updates, and errors.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// Measured against the fixtures: forward and gradient differences are at most ~1e-6 absolute
// (a few float32 ulps of values up to ~8). cxrlab computes each output in double and rounds
// once; PyTorch keeps float32 intermediates, so the gap is PyTorch's rounding, and gradients add
// the cancellation in M g - sum(g) - xhat sum(g xhat) over up to 40 float32 terms.
const Tolerance kNormOut{1e-5, 2e-6};
const Tolerance kNormGrad{2e-5, 3e-6};
// Running statistics: one float32 multiply-add of O(1) numbers (measured <= 1.2e-7).
const Tolerance kStats{1e-6, 1e-7};
// Dropout: both compute x * float(1/(1-p)) with one float32 rounding: bit-identical.
const Tolerance kDropout{0, 0};

Tensor undefined() { return Tensor(); }

// batch_norm through elementwise and reduce ops only (an independent composite to audit the
// closed-form backward): statistics over every dim but 1.
Tensor batch_norm_composite(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm, const Tensor& rv,
                            bool training, double eps) {
  Dims dims;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != 1) dims.push_back(d);
  Shape bshape(x.dim(), 1);
  bshape[1] = x.size(1);
  Tensor mu, var;
  if (training) {
    mu = mean(x, dims, true);
    var = mean((x - mu) * (x - mu), dims, true);
  } else {
    mu = rm.reshape(bshape);
    var = rv.reshape(bshape);
  }
  Tensor y = (x - mu) / sqrt(var + eps);
  if (w.defined()) y = y * w.reshape(bshape);
  if (b.defined()) y = y + b.reshape(bshape);
  return y;
}

Tensor layer_norm_composite(const Tensor& x, int64_t k, const Tensor& w, const Tensor& b, double eps) {
  Dims dims;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  Tensor mu = mean(x, dims, true);
  Tensor var = mean((x - mu) * (x - mu), dims, true);
  Tensor y = (x - mu) / sqrt(var + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

// Compares f and g (same inputs) in value and in every input gradient, in float64.
void check_same_function(const OpFn& f, const OpFn& g, const std::vector<Tensor>& inputs, const std::string& what) {
  INFO(what);
  auto run = [&](const OpFn& fn) {
    for (const Tensor& t : inputs) const_cast<Tensor&>(t).zero_grad();
    Tensor out = fn(inputs);
    Generator gen(77);
    out.backward(randn(out.shape(), {.dtype = DType::Float64}, &gen));
    std::vector<Tensor> res{out.detach()};
    for (const Tensor& t : inputs)
      if (t.requires_grad()) res.push_back(t.grad());
    return res;
  };
  std::vector<Tensor> a = run(f), b = run(g);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].defined());
    check_close(a[i], b[i], {1e-10, 1e-12}, i == 0 ? "value" : "gradient " + std::to_string(i - 1));
  }
}
}  // namespace

TEST_CASE("batch_norm: PyTorch parity, including the updated running statistics") {
  struct Case {
    const char* name;
    bool training, affine;
    double momentum = 0.1;
  };
  const std::vector<Case> cases = {
      {"batch_norm.train.2d", true, true},          {"batch_norm.train.3d", true, true, 0.3},
      {"batch_norm.train.4d", true, true},          {"batch_norm.train.permuted", true, true},
      {"batch_norm.train.noaffine.4d", true, false}, {"batch_norm.eval.2d", false, true},
      {"batch_norm.eval.4d", false, true},          {"batch_norm.eval.noaffine.4d", false, false},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) {
      const std::string name = c.name;
      const bool permuted = name == "batch_norm.train.permuted";
      const int rm_at = c.affine ? 3 : 1;  // position of running_mean among the case's inputs
      Tensor rm, rv;                        // the running statistics the op received (aliases)
      check_golden(
          "norm", name,
          [&](auto& in) {
            rm = in[rm_at];
            rv = in[rm_at + 1];
            Tensor x = permuted ? in[0].permute({0, 3, 1, 2}) : in[0];
            Tensor w = c.affine ? in[1] : undefined(), b = c.affine ? in[2] : undefined();
            return batch_norm(x, w, b, rm, rv, c.training, c.momentum, 1e-5);
          },
          kNormOut, kNormGrad);
      check_close(rm, golden_tensor("norm", name + ".in" + std::to_string(rm_at) + ".after"), kStats, "running_mean");
      check_close(rv, golden_tensor("norm", name + ".in" + std::to_string(rm_at + 1) + ".after"), kStats,
                  "running_var");
      if (!c.training) {  // eval leaves the buffers alone
        CHECK(rm.to_vector() == golden_tensor("norm", name + ".in" + std::to_string(rm_at)).to_vector());
        CHECK(rv.to_vector() == golden_tensor("norm", name + ".in" + std::to_string(rm_at + 1)).to_vector());
      }
    }
  }
  SUBCASE("batch_norm.train.nostats") {
    check_golden(
        "norm", "batch_norm.train.nostats",
        [](auto& in) { return batch_norm(in[0], in[1], in[2], undefined(), undefined(), true); }, kNormOut,
        kNormGrad);
  }
}

TEST_CASE("layer_norm: PyTorch parity") {
  check_golden("norm", "layer_norm.1d", [](auto& in) { return layer_norm(in[0], {6}, in[1], in[2]); }, kNormOut,
               kNormGrad);
  check_golden("norm", "layer_norm.2d", [](auto& in) { return layer_norm(in[0], {4, 5}, in[1], in[2]); }, kNormOut,
               kNormGrad);
  check_golden("norm", "layer_norm.noaffine", [](auto& in) { return layer_norm(in[0], {5}); }, kNormOut, kNormGrad);
  check_golden("norm", "layer_norm.weight_only", [](auto& in) { return layer_norm(in[0], {5}, in[1]); }, kNormOut,
               kNormGrad);
  check_golden("norm", "layer_norm.transposed",
               [](auto& in) { return layer_norm(in[0].t(), {4}, in[1], in[2], 1e-3); }, kNormOut, kNormGrad);
  check_golden("norm", "layer_norm.whole", [](auto& in) { return layer_norm(in[0], {3, 4}, in[1], in[2]); },
               kNormOut, kNormGrad);
}

TEST_CASE("dropout: PyTorch parity given cxrlab's Philox mask") {
  // The fixture rebuilt the mask of Generator(2024) / Generator(7) in Python (tools/goldens/norm.py),
  // so this also pins the mask rule: element i is dropped iff uniform(first + i) < p.
  check_golden(
      "norm", "dropout.train",
      [](auto& in) {
        Generator g(2024);
        return dropout(in[0], 0.3, true, &g);
      },
      kDropout, kDropout);
  check_golden(
      "norm", "dropout.train.transposed",
      [](auto& in) {
        Generator g(7);
        return dropout(in[0].t(), 0.5, true, &g);
      },
      kDropout, kDropout);
  check_golden("norm", "dropout.eval", [](auto& in) { return dropout(in[0], 0.5, false); }, kDropout, kDropout);
  check_golden("norm", "dropout.p1", [](auto& in) { return dropout(in[0], 1.0, true); }, kDropout, kDropout);
}

TEST_CASE("batch_norm: gradcheck in train and eval, with and without affine, 2-D and 4-D") {
  Tensor x2 = randn64({5, 3}, 1), x4 = randn64({2, 3, 2, 2}, 2);
  Tensor w = randn64({3}, 3), b = randn64({3}, 4);
  Generator gs(5);
  Tensor rm = randn({3}, {.dtype = DType::Float64}, &gs);
  Tensor rv = rand({3}, {.dtype = DType::Float64}, &gs) + 0.5;
  for (bool training : {true, false}) {
    CAPTURE(training);
    check_gradcheck([&](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, training); }, {x2, w, b});
    check_gradcheck([&](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, training); }, {x4, w, b});
    check_gradcheck([&](auto& in) { return batch_norm(in[0], Tensor(), Tensor(), rm, rv, training); }, {x4});
    check_gradcheck([&](auto& in) { return batch_norm(in[0], in[1], Tensor(), rm, rv, training, 0.1, 1e-3); },
                    {x2, w});
  }
  // Training without running statistics; a 3-D input.
  Tensor x3 = randn64({3, 2, 4}, 6), w2 = randn64({2}, 7), b2 = randn64({2}, 8);
  check_gradcheck([](auto& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); }, {x3, w2, b2});
}

TEST_CASE("batch_norm: gradcheck with non-contiguous operands") {
  // x: (N, H, W, C) permuted to (N, C, H, W); weight: every other element of a longer vector;
  // bias: a stride-0 expansion of one value.
  Tensor x = randn64({2, 2, 3, 3}, 10), wbig = randn64({6}, 11), b1 = randn64({1}, 12);
  Generator gs(13);
  Tensor rm = randn({3}, {.dtype = DType::Float64}, &gs), rv = rand({3}, {.dtype = DType::Float64}, &gs) + 0.5;
  for (bool training : {true, false}) {
    CAPTURE(training);
    check_gradcheck(
        [&](auto& in) {
          return batch_norm(in[0].permute({0, 3, 1, 2}), in[1].slice(0, 0, 6, 2), in[2].expand({3}), rm, rv,
                            training);
        },
        {x, wbig, b1});
  }
  Tensor xt = randn64({3, 6}, 14);  // (C, N) transposed to (N, C)
  check_gradcheck([](auto& in) { return batch_norm(in[0].t(), Tensor(), Tensor(), Tensor(), Tensor(), true); }, {xt});
}

TEST_CASE("layer_norm: gradcheck, including non-contiguous and broadcast operands") {
  Tensor x = randn64({3, 4}, 20), w = randn64({4}, 21), b = randn64({4}, 22);
  check_gradcheck([](auto& in) { return layer_norm(in[0], {4}, in[1], in[2]); }, {x, w, b});
  check_gradcheck([](auto& in) { return layer_norm(in[0], {4}); }, {x});
  check_gradcheck([](auto& in) { return layer_norm(in[0], {4}, in[1], Tensor(), 1e-2); }, {x, w});
  Tensor x4 = randn64({2, 2, 2, 3}, 23), w2 = randn64({2, 3}, 24), b2 = randn64({2, 3}, 25);
  check_gradcheck([](auto& in) { return layer_norm(in[0], {2, 3}, in[1], in[2]); }, {x4, w2, b2});
  check_gradcheck([](auto& in) { return layer_norm(in[0], {2, 2, 2, 3}); }, {x4});  // one row: everything
  // Non-contiguous x (transposed, then a strided slice) and a weight broadcast from (1, 3).
  Tensor xt = randn64({6, 5}, 26), wrow = randn64({1, 3}, 27), bcol = randn64({2, 1}, 28);
  check_gradcheck(
      [](auto& in) { return layer_norm(in[0].t().slice(1, 0, 6, 2), {3}, in[1].reshape({3}), Tensor()); },
      {xt, wrow});
  check_gradcheck(
      [](auto& in) { return layer_norm(in[0].t().reshape({5, 2, 3}), {2, 3}, in[1].expand({2, 3}), in[2].expand({2, 3})); },
      {xt, wrow, bcol});
}

TEST_CASE("batch_norm and layer_norm: closed-form backwards equal autograd through the composite formula") {
  Tensor x = randn64({3, 2, 2, 3}, 30), w = randn64({2}, 31), b = randn64({2}, 32);
  Generator gs(33);
  Tensor rm = randn({2}, {.dtype = DType::Float64}, &gs), rv = rand({2}, {.dtype = DType::Float64}, &gs) + 0.5;
  check_same_function([&](auto& in) { return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true); },
                      [&](auto& in) { return batch_norm_composite(in[0], in[1], in[2], rm, rv, true, 1e-5); },
                      {x, w, b}, "batch_norm train");
  check_same_function([&](auto& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); },
                      [&](auto& in) { return batch_norm_composite(in[0], in[1], in[2], rm, rv, false, 1e-5); },
                      {x, w, b}, "batch_norm eval");
  check_same_function([&](auto& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
                      [&](auto& in) { return batch_norm_composite(in[0], Tensor(), Tensor(), rm, rv, true, 1e-5); },
                      {x}, "batch_norm train, no affine");
  Tensor lw = randn64({2, 3}, 34), lb = randn64({2, 3}, 35);
  check_same_function([](auto& in) { return layer_norm(in[0], {2, 3}, in[1], in[2]); },
                      [](auto& in) { return layer_norm_composite(in[0], 2, in[1], in[2], 1e-5); }, {x, lw, lb},
                      "layer_norm");
  // The named backward functions themselves, called directly, skip what the mask excludes.
  Tensor g = randn64({3, 2, 2, 3}, 36).detach();
  NormGrads only_x = batch_norm_backward(g, x.detach(), w.detach(), zeros({2}, {.dtype = DType::Float64}),
                                         ones({2}, {.dtype = DType::Float64}), false, {true, false, false});
  CHECK(only_x.x.defined());
  CHECK_FALSE(only_x.weight.defined());
  CHECK_FALSE(only_x.bias.defined());
  // eval with mean 0, invstd 1: gx = g w
  check_close(only_x.x, g * w.detach().reshape({1, 2, 1, 1}), {0, 0}, "eval gx = g w invstd");
}

TEST_CASE("batch_norm: running statistics are updated in place through strided buffers, not recorded") {
  Tensor x = randn64({4, 3}, 40);
  Tensor mean_buf = from_vector({10, 11, 12, 13, 14, 15}, {6}, {.dtype = DType::Float64});
  Tensor var_buf = from_vector({20, 21, 22, 23, 24, 25}, {6}, {.dtype = DType::Float64});
  Tensor rm = mean_buf.slice(0, 0, 6, 2), rv = var_buf.slice(0, 1, 6, 2);  // stride-2 views
  Tensor rm0 = rm.clone(), rv0 = rv.clone();
  Tensor out;
  {
    NoGradGuard no_grad;  // the update happens with or without grad mode
    out = batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.25);
  }
  CHECK_FALSE(out.requires_grad());
  Tensor xd = x.detach();
  Tensor bm = mean(xd, {0});
  Tensor unbiased = sum((xd - bm) * (xd - bm), {0}) / 3.0;
  check_close(rm, rm0 * 0.75 + bm * 0.25, {1e-12, 1e-12}, "running_mean");
  check_close(rv, rv0 * 0.75 + unbiased * 0.25, {1e-12, 1e-12}, "running_var");
  // The interleaved elements of the buffers are untouched.
  CHECK(mean_buf.slice(0, 1, 6, 2).to_vector() == std::vector<double>{11, 13, 15});
  CHECK(var_buf.slice(0, 0, 6, 2).to_vector() == std::vector<double>{20, 22, 24});
  // Recorded op: the buffers are not graph inputs and get no gradient.
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, true);
  REQUIRE(y.requires_grad());
  CHECK(std::string(y.grad_fn()->name()) == "batch_norm_backward");
  sum(y * y).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(rm.requires_grad());
  CHECK_FALSE(rm.grad().defined());
  // The output is normalized: per-channel mean 0 and biased variance var / (var + eps).
  Tensor ym = mean(y.detach(), {0});
  CHECK(max_abs_diff(ym, zeros({3}, {.dtype = DType::Float64})) < 1e-12);
  Tensor yv = mean(y.detach() * y.detach(), {0});
  Tensor biased = unbiased * 3.0 / 4.0;
  check_close(yv, biased / (biased + 1e-5), {1e-12, 1e-12}, "normalized variance");
}

TEST_CASE("dropout: deterministic by seed, counter-based, rate p, survivors scaled by 1/(1-p)") {
  Tensor x = randn({64, 50}, {}, nullptr);
  Generator a(11), b(11), c(12);
  Tensor ya = dropout(x, 0.3, true, &a), yb = dropout(x, 0.3, true, &b), yc = dropout(x, 0.3, true, &c);
  CHECK(ya.to_vector() == yb.to_vector());
  CHECK(ya.to_vector() != yc.to_vector());
  // The generator advanced by numel: the next draw differs, and equals a generator set to that offset.
  CHECK(a.offset() == uint64_t(x.numel()));
  Tensor next = dropout(x, 0.3, true, &a);
  CHECK(next.to_vector() != ya.to_vector());
  Generator at_offset;
  at_offset.set_state(11, x.numel());
  CHECK(dropout(x, 0.3, true, &at_offset).to_vector() == next.to_vector());
  // The default generator is used without one and reset by manual_seed.
  manual_seed(99);
  Tensor d1 = dropout(x, 0.5, true);
  manual_seed(99);
  CHECK(dropout(x, 0.5, true).to_vector() == d1.to_vector());

  // Rate and scale on 200k elements: the dropped fraction is within 0.005 of p (the binomial
  // standard deviation is at most 0.0011), and every survivor is exactly float(x * float(1/(1-p))).
  Tensor big = rand({200000}, {}, nullptr) + 0.5;  // no zeros in x, so zeros in y are drops
  std::vector<double> xv = big.to_vector();
  for (double p : {0.1, 0.5, 0.9}) {
    CAPTURE(p);
    Generator g(1000 + uint64_t(p * 10));
    std::vector<double> yv = dropout(big, p, true, &g).to_vector();
    int64_t dropped = 0, bad_scale = 0;
    const float scale = float(1.0 / (1.0 - p));
    for (size_t i = 0; i < yv.size(); ++i) {
      if (yv[i] == 0) ++dropped;
      else if (float(yv[i]) != float(xv[i]) * scale) ++bad_scale;
    }
    CHECK(std::fabs(double(dropped) / double(yv.size()) - p) < 0.005);
    CHECK(bad_scale == 0);
  }
}

TEST_CASE("dropout: eval and p = 0 return x itself, p = 1 gives zeros with zero gradient") {
  Tensor x = randn64({3, 4}, 50);
  CHECK(dropout(x, 0.5, false).same(x));
  CHECK(dropout(x, 0.0, true).same(x));
  Generator g(1);
  CHECK(dropout(x, 1.0, false, &g).same(x));
  Tensor z = dropout(x, 1.0, true, &g);
  CHECK(g.offset() == 0);  // no random numbers drawn for p = 1 (or p = 0, or eval)
  CHECK(z.to_vector() == std::vector<double>(12, 0.0));
  sum(z).backward();
  CHECK(x.grad().to_vector() == std::vector<double>(12, 0.0));
}

TEST_CASE("dropout: gradcheck with a fixed generator") {
  // fn re-seeds its generator, so every evaluation of gradcheck uses the same mask.
  Tensor x = randn64({4, 5}, 60);
  check_gradcheck(
      [](auto& in) {
        Generator g(5);
        return dropout(in[0], 0.4, true, &g);
      },
      {x});
  check_gradcheck(
      [](auto& in) {
        Generator g(6);
        return dropout(in[0].t().slice(0, 1, 5), 0.25, true, &g);
      },
      {x});
  // The backward multiplies by the saved mask * scale: gx = g * (y / x) elementwise.
  Generator g(8);
  Tensor y = dropout(x, 0.4, true, &g);
  Tensor up = randn64({4, 5}, 61).detach();
  x.zero_grad();
  y.backward(up);
  check_close(x.grad(), dropout_backward(up, y.detach() / x.detach()), {1e-12, 0}, "gx = g * mask * scale");
  CHECK(std::string(y.grad_fn()->name()) == "dropout_backward");
}

TEST_CASE("norm: errors name the op and the offending shapes or values") {
  Tensor x = randn({4, 3});
  CHECK_THROWS_WITH_AS(batch_norm(randn({4}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: expects an input of shape (N, C) or (N, C, *), got [4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, randn({4}), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: weight must have shape [3] for input [4, 3], got [4]"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), randn({3}, {.dtype = DType::Float64}), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: bias is float64 but the input is float32"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), false),
                       doctest::Contains("running_mean and running_var must be defined in evaluation mode"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(x, Tensor(), Tensor(), zeros({3}), Tensor(), true),
                       doctest::Contains("must be given together"), Error);
  CHECK_THROWS_WITH_AS(batch_norm(randn({1, 3, 1}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("more than 1 value per channel when training, got input shape [1, 3, 1]"),
                       Error);
  CHECK_THROWS_WITH_AS(batch_norm(zeros({4, 3}, {.dtype = DType::Int64}), Tensor(), Tensor(), Tensor(), Tensor(), true),
                       doctest::Contains("batch_norm: expects a floating input, got int64"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {4}),
                       doctest::Contains("layer_norm: normalized_shape [4] does not match the trailing dims of the "
                                         "input shape [4, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {2, 4, 3}), doctest::Contains("normalized_shape [2, 4, 3] does not match"), Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {}), doctest::Contains("layer_norm: normalized_shape must have at least one dim"),
                       Error);
  CHECK_THROWS_WITH_AS(layer_norm(x, {3}, randn({4})),
                       doctest::Contains("layer_norm: weight must have shape [3] for input [4, 3], got [4]"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, 1.5, true), doctest::Contains("dropout: probability p must be in [0, 1], got 1.5"),
                       Error);
  CHECK_THROWS_WITH_AS(dropout(x, -0.1, false), doctest::Contains("got -0.1"), Error);
  CHECK_THROWS_WITH_AS(dropout(x, NAN, true), doctest::Contains("dropout: probability p must be in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(dropout(zeros({3}, {.dtype = DType::Int64}), 0.5, true),
                       doctest::Contains("dropout: expects a floating input, got int64"), Error);
}
