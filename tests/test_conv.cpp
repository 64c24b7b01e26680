// test_conv.cpp — conv2d and the pools: PyTorch parity (tests/goldens/conv.safetensors, from
// tools/goldens/conv.py) over stride/padding/dilation, non-square, no-bias and non-contiguous cases;
// float64 gradchecks of every op (max-pool ties as expected kinks); argument errors.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// conv2d float32: we accumulate in double and round once; PyTorch accumulates C_in*kH*kW (forward,
// <= 27 here), C_out*kH*kW (grad input) or N*H_out*W_out (grad weight, <= 72) products in float32,
// so differences are a few float32 roundings of sums of magnitude ~10.
const Tolerance kConvF32{1e-5, 2e-5};
const Tolerance kF64{1e-12, 1e-12};
// max_pool2d selects an element: the forward is exact. Its gradient sums the upstream values routed
// to one input from overlapping windows, in an order that may differ from PyTorch's: one rounding.
const Tolerance kExact{0, 0};
const Tolerance kRouted{1e-6, 1e-6};
// avg pools: a sum of <= 9 (adaptive: <= 35) values and one division, vs PyTorch's float32 sum.
const Tolerance kAverage{1e-5, 1e-6};

Tensor f64(const std::vector<double>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Float64});
}
}  // namespace

TEST_CASE("conv2d: PyTorch parity") {
  struct Case {
    const char* name;
    OpFn fn;
  };
  const std::vector<Case> cases = {
      {"conv2d.basic", [](auto& in) { return conv2d(in[0], in[1], in[2]); }},
      {"conv2d.stride2_pad1", [](auto& in) { return conv2d(in[0], in[1], in[2], 2, 1); }},
      {"conv2d.dilation2", [](auto& in) { return conv2d(in[0], in[1], in[2], 1, 2, 2); }},
      {"conv2d.nonsquare", [](auto& in) { return conv2d(in[0], in[1], in[2], {2, 1}, {1, 0}, {1, 2}); }},
      {"conv2d.no_bias", [](auto& in) { return conv2d(in[0], in[1], Tensor(), 1, 1); }},
      {"conv2d.one_by_one", [](auto& in) { return conv2d(in[0], in[1], in[2]); }},
      {"conv2d.uncovered", [](auto& in) { return conv2d(in[0], in[1], in[2], 2); }},
      {"conv2d.channels_last", [](auto& in) { return conv2d(in[0].permute({0, 3, 1, 2}), in[1], in[2], 1, 1); }},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) { check_golden("conv", c.name, c.fn, kConvF32, kConvF32); }
  }
  SUBCASE("conv2d.f64") {
    check_golden("conv", "conv2d.f64", [](auto& in) { return conv2d(in[0], in[1], in[2], {1, 2}, {2, 1}); }, kF64,
                 kF64);
  }
}

TEST_CASE("pools: PyTorch parity") {
  struct Case {
    const char* name;
    OpFn fn;
    Tolerance out, grad;
  };
  const std::vector<Case> cases = {
      {"max_pool2d.basic", [](auto& in) { return max_pool2d(in[0], 2); }, kExact, kRouted},
      {"max_pool2d.k3s2p1", [](auto& in) { return max_pool2d(in[0], 3, 2, 1); }, kExact, kRouted},
      {"max_pool2d.nonsquare", [](auto& in) { return max_pool2d(in[0], {2, 3}, {1, 2}, {1, 1}); }, kExact, kRouted},
      {"max_pool2d.negative_padded", [](auto& in) { return max_pool2d(in[0], 3, 1, 1); }, kExact, kRouted},
      {"max_pool2d.transposed", [](auto& in) { return max_pool2d(in[0].transpose(2, 3), 2, 1); }, kExact, kRouted},
      {"max_pool2d.ties", [](auto& in) { return max_pool2d(in[0], 3, 1, 1); }, kExact, kRouted},
      {"avg_pool2d.basic", [](auto& in) { return avg_pool2d(in[0], 2); }, kAverage, kAverage},
      {"avg_pool2d.pad_include", [](auto& in) { return avg_pool2d(in[0], 3, 2, 1, true); }, kAverage, kAverage},
      {"avg_pool2d.pad_exclude", [](auto& in) { return avg_pool2d(in[0], 3, 2, 1, false); }, kAverage, kAverage},
      {"avg_pool2d.nonsquare", [](auto& in) { return avg_pool2d(in[0], {3, 2}, {2, 1}, {1, 1}, false); }, kAverage,
       kAverage},
      {"avg_pool2d.uncovered", [](auto& in) { return avg_pool2d(in[0], 2); }, kAverage, kAverage},
      {"adaptive_avg_pool2d.divisible", [](auto& in) { return adaptive_avg_pool2d(in[0], 4); }, kAverage, kAverage},
      {"adaptive_avg_pool2d.uneven", [](auto& in) { return adaptive_avg_pool2d(in[0], {3, 2}); }, kAverage, kAverage},
      {"adaptive_avg_pool2d.upsample", [](auto& in) { return adaptive_avg_pool2d(in[0], {5, 4}); }, kAverage, kAverage},
      {"adaptive_avg_pool2d.global", [](auto& in) { return adaptive_avg_pool2d(in[0], 1); }, kAverage, kAverage},
      {"adaptive_avg_pool2d.transposed", [](auto& in) { return adaptive_avg_pool2d(in[0].transpose(2, 3), {2, 3}); },
       kAverage, kAverage},
  };
  for (const Case& c : cases) {
    SUBCASE(c.name) { check_golden("conv", c.name, c.fn, c.out, c.grad); }
  }
}

TEST_CASE("max_pool2d: argmax indices match PyTorch's on ties (first maximum wins)") {
  Tensor x = golden_tensor("conv", "max_pool2d.ties.in0");
  Tensor expected = golden_tensor("conv", "max_pool2d.ties.indices");
  auto [out, indices] = max_pool2d_with_indices(x, 3, 1, 1);
  REQUIRE(indices.dtype() == DType::Int64);
  check_close(indices, expected, kExact, "max_pool2d indices");
  // The ties are real: some window holds its maximum more than once.
  int64_t tied_windows = 0;
  for (int64_t n = 0; n < x.size(0); ++n)
    for (int64_t c = 0; c < x.size(1); ++c)
      for (int64_t oh = 0; oh < out.size(2); ++oh)
        for (int64_t ow = 0; ow < out.size(3); ++ow) {
          int64_t hits = 0;
          for (int64_t ih = std::max<int64_t>(oh - 1, 0); ih <= std::min<int64_t>(oh + 1, x.size(2) - 1); ++ih)
            for (int64_t iw = std::max<int64_t>(ow - 1, 0); iw <= std::min<int64_t>(ow + 1, x.size(3) - 1); ++iw)
              hits += x.at({n, c, ih, iw}) == out.at({n, c, oh, ow});
          tied_windows += hits > 1;
        }
  CHECK(tied_windows > 10);
}

TEST_CASE("conv2d: gradcheck") {
  auto conv = [](Size2 s, Size2 p, Size2 d) {
    return [=](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), s, p, d); };
  };
  SUBCASE("stride 1, no padding, bias") {
    check_gradcheck(conv(1, 0, 1), {randn64({2, 2, 4, 4}, 1), randn64({2, 2, 3, 3}, 2), randn64({2}, 3)});
  }
  SUBCASE("stride (2, 1), padding (1, 2), dilation (2, 1), non-square kernel") {
    check_gradcheck(conv({2, 1}, {1, 2}, {2, 1}), {randn64({1, 2, 6, 5}, 4), randn64({2, 2, 2, 3}, 5), randn64({2}, 6)});
  }
  SUBCASE("stride 2 leaves pixels no window reaches; no bias") {
    check_gradcheck(conv(2, 0, 1), {randn64({1, 2, 6, 6}, 7), randn64({3, 2, 3, 3}, 8)});
  }
  SUBCASE("non-contiguous leaves: channels-last input, permuted weight") {
    Tensor x = randn64({1, 4, 5, 2}, 9).detach().permute({0, 3, 1, 2}).requires_grad_();  // (1, 2, 4, 5)
    Tensor w = randn64({3, 3, 2, 2}, 10).detach().permute({3, 2, 0, 1}).requires_grad_();  // (2, 2, 3, 3)
    REQUIRE(!x.is_contiguous());
    REQUIRE(!w.is_contiguous());
    check_gradcheck(conv(1, 1, 1), {x, w, randn64({2}, 11)});
  }
  SUBCASE("only the weight requires grad") {
    Tensor x = randn64({1, 2, 4, 4}, 12).detach();
    check_gradcheck([&](auto& in) { return conv2d(x, in[0], Tensor(), 1, 1); }, {randn64({2, 2, 3, 3}, 13)});
  }
}

TEST_CASE("conv2d: the named backward functions agree with autograd") {
  Tensor x = randn64({2, 2, 5, 4}, 20), w = randn64({3, 2, 2, 3}, 21), b = randn64({3}, 22);
  Tensor out = conv2d(x, w, b, {2, 1}, {1, 1}, {1, 2});
  Tensor g = randn64(out.shape(), 23).detach();
  out.backward(g);
  check_close(conv2d_backward_input(g, w.detach(), x.shape(), {2, 1}, {1, 1}, {1, 2}), x.grad(), kF64, "grad input");
  check_close(conv2d_backward_weight(g, x.detach(), w.shape(), {2, 1}, {1, 1}, {1, 2}), w.grad(), kF64, "grad weight");
  check_close(sum(g, {0, 2, 3}), b.grad(), kF64, "grad bias");
}

TEST_CASE("pools: gradcheck") {
  SUBCASE("max_pool2d, overlapping windows with padding") {
    check_gradcheck([](auto& in) { return max_pool2d(in[0], 3, 2, 1); }, {randn64({1, 2, 5, 5}, 30)});
  }
  SUBCASE("max_pool2d, non-square, non-contiguous input") {
    Tensor x = randn64({1, 5, 6, 2}, 31).detach().permute({0, 3, 2, 1}).requires_grad_();  // (1, 2, 6, 5)
    REQUIRE(!x.is_contiguous());
    check_gradcheck([](auto& in) { return max_pool2d(in[0], {2, 3}, {1, 2}, {1, 1}); }, {x});
  }
  SUBCASE("avg_pool2d, count_include_pad true and false") {
    Tensor x = randn64({1, 2, 5, 6}, 32);
    check_gradcheck([](auto& in) { return avg_pool2d(in[0], 3, 2, 1, true); }, {x});
    check_gradcheck([](auto& in) { return avg_pool2d(in[0], 3, 2, 1, false); }, {x});
  }
  SUBCASE("avg_pool2d, non-square, non-contiguous input") {
    check_gradcheck([](auto& in) { return avg_pool2d(in[0].transpose(2, 3), {3, 2}, {2, 1}, {1, 1}, false); },
                    {randn64({1, 2, 5, 6}, 33)});
  }
  SUBCASE("adaptive_avg_pool2d, uneven and upsampling windows") {
    check_gradcheck([](auto& in) { return adaptive_avg_pool2d(in[0], {3, 2}); }, {randn64({1, 2, 7, 5}, 34)});
    check_gradcheck([](auto& in) { return adaptive_avg_pool2d(in[0], {4, 5}); }, {randn64({1, 1, 3, 3}, 35)});
    Tensor x = randn64({1, 5, 2, 4}, 36).detach().permute({0, 2, 3, 1}).requires_grad_();  // (1, 2, 4, 5)
    check_gradcheck([](auto& in) { return adaptive_avg_pool2d(in[0], {3, 3}); }, {x});
  }
}

TEST_CASE("max_pool2d: ties are kinks, and the first maximum takes the gradient") {
  // Two 2x2 windows: the first holds four equal maxima, the second one clear maximum (3).
  Tensor x = f64({1, 1, 0, 2,  //
                  1, 1, 3, 0.5},
                 {1, 1, 2, 4})
                 .requires_grad_();
  // Each tied element is a kink: +eps makes it the unique maximum (slope v), -eps leaves another tied
  // element in place (slope 0); the routed gradient (v for the first, 0 for the rest) lies between.
  check_gradcheck([](auto& in) { return max_pool2d(in[0], 2); }, {x}, /*expected_kinks=*/4);
  x.zero_grad();
  max_pool2d(x, 2).backward(ones({1, 1, 1, 2}, {.dtype = DType::Float64}));
  CHECK(x.grad().to_vector() == std::vector<double>{1, 0, 0, 0, 0, 0, 1, 0});
}

TEST_CASE("max_pool2d: padding is -inf, NaN propagates") {
  Tensor x = full({1, 1, 2, 2}, -5.0);
  CHECK(max_pool2d(x, 3, 1, 1).to_vector() == std::vector<double>(4, -5.0));
  x.set({0, 0, 1, 0}, NAN);
  std::vector<double> out = max_pool2d(x, 2, 1, 1).to_vector();  // 2x2 windows, output 3x3
  CHECK(out[0] == -5.0);           // window covering (0,0) only
  CHECK(std::isnan(out[3]));       // covers (1,0)
  CHECK(std::isnan(out[4]));
}

TEST_CASE("pools: stride 0 means the kernel size, per dimension") {
  Tensor x = zeros({1, 1, 6, 6});
  CHECK(max_pool2d(x, 2).shape() == Shape{1, 1, 3, 3});
  CHECK(max_pool2d(x, {2, 3}, {0, 1}).shape() == Shape{1, 1, 3, 4});
  CHECK(avg_pool2d(x, 3).shape() == Shape{1, 1, 2, 2});
}

TEST_CASE("conv2d: errors name the op and the shapes") {
  Tensor x = zeros({1, 3, 5, 5}), w = zeros({2, 3, 3, 3});
  CHECK_THROWS_WITH_AS(conv2d(zeros({3, 5, 5}), w),
                       doctest::Contains("conv2d: expected a 4-D input (N, C, H, W), got [3, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({2, 3, 3})),
                       doctest::Contains("conv2d: expected a 4-D weight (C_out, C_in, kH, kW), got [2, 3, 3]"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, zeros({2, 4, 3, 3})),
                       doctest::Contains("conv2d: input [1, 3, 5, 5] has 3 channels but weight [2, 4, 3, 3] expects 4"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(zeros({1, 3, 2, 5}), w), doctest::Contains("larger than the padded input [2, 5]"), Error);
  CHECK_NOTHROW(conv2d(zeros({1, 3, 2, 5}), w, Tensor(), 1, 1));  // padded to 4x7
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 1, 0, 3),
                       doctest::Contains("conv2d: kernel [3, 3] with dilation (3, 3) spans [7, 7], larger than the "
                                         "padded input [5, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), {0, 1}), doctest::Contains("conv2d: stride must be positive, got (0, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 1, -1), doctest::Contains("conv2d: padding must be non-negative"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, Tensor(), 1, 0, 0), doctest::Contains("conv2d: dilation must be positive"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w, zeros({3})),
                       doctest::Contains("conv2d: bias of shape [3] does not match weight [2, 3, 3, 3] (expected [2])"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d(x.to(DType::Int64), w.to(DType::Int64)),
                       doctest::Contains("conv2d: expected a floating input (float32 or float64), got int64"), Error);
  CHECK_THROWS_WITH_AS(conv2d(x, w.to(DType::Float64)), doctest::Contains("conv2d: dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(conv2d_backward_input(zeros({1, 2, 4, 4}), w, x.shape(), 1, 0, 1),
                       doctest::Contains("conv2d_backward_input: grad_out [1, 2, 4, 4] does not match the output "
                                         "shape [1, 2, 3, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(conv2d_backward_weight(zeros({1, 2, 3, 3}), x, {2, 4, 3, 3}, 1, 0, 1),
                       doctest::Contains("conv2d_backward_weight: input [1, 3, 5, 5] has 3 channels"), Error);
}

TEST_CASE("pools: errors name the op and the shapes") {
  Tensor x = zeros({1, 2, 5, 5});
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({2, 5, 5}), 2),
                       doctest::Contains("max_pool2d: expected a 4-D input (N, C, H, W), got [2, 5, 5]"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, {0, 2}), doctest::Contains("max_pool2d: kernel size must be positive, got (0, 2)"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 2, -1), doctest::Contains("max_pool2d: stride must be positive"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x, 3, 1, 2),
                       doctest::Contains("max_pool2d: padding (2, 2) must be at most half the kernel size (3, 3)"), Error);
  CHECK_THROWS_WITH_AS(max_pool2d(zeros({1, 1, 2, 5}), 3),
                       doctest::Contains("max_pool2d: kernel (3, 3) is larger than the padded input [2, 5] (input [1, 1, "
                                         "2, 5], padding (0, 0))"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d(x.to(DType::Int64), 2), doctest::Contains("max_pool2d: expected a floating input"),
                       Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(zeros({5, 5}), 2), doctest::Contains("avg_pool2d: expected a 4-D input"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 2, 1, 2), doctest::Contains("avg_pool2d: padding (2, 2) must be at most half"),
                       Error);
  CHECK_THROWS_WITH_AS(avg_pool2d(x, 6), doctest::Contains("avg_pool2d: kernel (6, 6) is larger than the padded input"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(x, {0, 2}),
                       doctest::Contains("adaptive_avg_pool2d: output size must be positive, got (0, 2) for input "
                                         "[1, 2, 5, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(zeros({2, 5, 5}), 2),
                       doctest::Contains("adaptive_avg_pool2d: expected a 4-D input"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avg_pool2d(zeros({1, 2, 0, 5}), 2),
                       doctest::Contains("adaptive_avg_pool2d: expected an input with non-empty H and W, got [1, 2, 0, 5]"),
                       Error);
  CHECK_THROWS_WITH_AS(max_pool2d_backward(zeros({1, 2, 2, 2}), zeros({1, 2, 2, 2}), x.shape()),
                       doctest::Contains("max_pool2d_backward: indices must be int64"), Error);
  CHECK_THROWS_WITH_AS(
      max_pool2d_backward(zeros({1, 1, 1, 1}), full({1, 1, 1, 1}, 25, {.dtype = DType::Int64}), {1, 1, 5, 5}),
      doctest::Contains("max_pool2d_backward: index 25 out of range for an input plane of 5x5"), Error);
  CHECK_THROWS_WITH_AS(avg_pool2d_backward(zeros({1, 2, 3, 3}), x.shape(), 2, 0, 0, true),
                       doctest::Contains("avg_pool2d_backward: grad_out [1, 2, 3, 3] does not match the output shape "
                                         "[1, 2, 2, 2]"),
                       Error);
}
