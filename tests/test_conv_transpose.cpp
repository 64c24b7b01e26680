// test_conv_transpose.cpp — conv_transpose2d: PyTorch parity (tests/goldens/conv_transpose.safetensors,
// from tools/goldens/conv_transpose.py) under both CPU kernel sets; float64 gradchecks of input,
// weight and bias over stride/padding/output_padding/non-square cases; the adjoint identity with
// conv2d; the fast kernel against the reference one (1 and 2 threads bit-identical); argument errors;
// the nn::ConvTranspose2d layer (names, PyTorch's default init, summary).
#include "cpu_testing.h"
#include "nn/layers.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// float32: the reference kernel accumulates in double and rounds once; PyTorch and the fast kernel
// accumulate C_in*kH*kW (forward, <= 512 in decoder_stage), C_out*kH*kW (grad input) or N*H*W
// (grad weight, <= 128) products in float32: a few float32 roundings of sums of magnitude ~10-50.
const Tolerance kConvF32{1e-5, 5e-5};
const Tolerance kF64{1e-12, 1e-12};

const CpuKernels kKernelSets[] = {CpuKernels::Reference, CpuKernels::Fast};

std::string kernels_name(CpuKernels k) { return k == CpuKernels::Reference ? "reference" : "fast"; }

double dot(const Tensor& a, const Tensor& b) { return sum(a * b).item(); }
}  // namespace

TEST_CASE("conv_transpose2d: PyTorch parity, reference and fast kernels") {
  struct Case {
    const char* name;
    OpFn fn;
  };
  const std::vector<Case> cases = {
      {"conv_transpose2d.basic", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2]); }},
      {"conv_transpose2d.stride2_pad1", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); }},
      {"conv_transpose2d.output_padding", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1, 1); }},
      {"conv_transpose2d.stride3_output_padding2",
       [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 3, 0, 2); }},
      {"conv_transpose2d.nonsquare",
       [](auto& in) {
         return conv_transpose2d(in[0], in[1], in[2], {2, 3}, {1, 0}, {1, 2});
       }},
      {"conv_transpose2d.no_bias", [](auto& in) { return conv_transpose2d(in[0], in[1], Tensor(), 2, 1); }},
      {"conv_transpose2d.padding_crops", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 1, 3); }},
      {"conv_transpose2d.channels_last",
       [](auto& in) {
         return conv_transpose2d(in[0].permute({0, 3, 1, 2}), in[1], in[2], 2, 1);
       }},
      {"conv_transpose2d.decoder_stage", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], 2, 1); }},
  };
  for (CpuKernels k : kKernelSets) {
    ScopedCpuKernels scope(k);
    INFO("kernels: ", kernels_name(k));
    for (const Case& c : cases) check_golden("conv_transpose", c.name, c.fn, kConvF32, kConvF32);
    check_golden(
        "conv_transpose", "conv_transpose2d.f64",
        [](auto& in) {
          return conv_transpose2d(in[0], in[1], in[2], {2, 1}, {1, 2}, {1, 0});
        },
        kF64, kF64);
  }
}

TEST_CASE("conv_transpose2d: output size (H - 1) stride - 2 padding + k + output_padding") {
  Tensor w = zeros({3, 2, 4, 4});
  CHECK(conv_transpose2d(zeros({1, 3, 8, 8}), w, Tensor(), 2, 1).shape() == Shape{1, 2, 16, 16});  // the decoder
  CHECK(conv_transpose2d(zeros({1, 3, 5, 6}), zeros({3, 2, 3, 2}), Tensor(), {2, 3}, {1, 0}, {1, 2}).shape() ==
        Shape{1, 2, 10, 19});
  CHECK(conv_transpose2d(zeros({2, 3, 1, 1}), w).shape() == Shape{2, 2, 4, 4});
}

TEST_CASE("conv_transpose2d: gradcheck of input, weight and bias") {
  auto ct = [](Size2 s, Size2 p, Size2 op) {
    return [=](const std::vector<Tensor>& in) {
      return conv_transpose2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), s, p, op);
    };
  };
  Tensor x_fixed = randn64({1, 2, 3, 3}, 18).detach();
  struct Case {
    const char* name;
    GradcheckFn fn;
    std::vector<Tensor> inputs;
  };
  const std::vector<Case> cases = {
      {"stride 1, no padding", ct(1, 0, 0), {randn64({2, 2, 3, 3}, 1), randn64({2, 3, 3, 3}, 2), randn64({3}, 3)}},
      {"stride 2, padding 1, kernel 4 (the decoder's stage)",
       ct(2, 1, 0),
       {randn64({1, 3, 3, 3}, 4), randn64({3, 2, 4, 4}, 5), randn64({2}, 6)}},
      {"stride 2, padding 1, output_padding 1",
       ct(2, 1, 1),
       {randn64({2, 2, 3, 2}, 7), randn64({2, 2, 3, 3}, 8), randn64({2}, 9)}},
      {"non-square: stride (3, 2), padding (0, 1), output_padding (2, 1), kernel 2x3, no bias",
       ct({3, 2}, {0, 1}, {2, 1}),
       {randn64({1, 2, 2, 3}, 10), randn64({2, 3, 2, 3}, 11)}},
      {"padding wider than the kernel crops the output",
       ct(1, 3, 0),
       {randn64({1, 2, 6, 5}, 12), randn64({2, 2, 3, 3}, 13), randn64({2}, 14)}},
      {"non-contiguous leaves: channels-last input, permuted weight",
       ct(2, 1, 1),
       {randn64({1, 3, 4, 2}, 15).detach().permute({0, 3, 1, 2}).requires_grad_(),  // (1, 2, 3, 4)
        randn64({3, 3, 3, 2}, 16).detach().permute({3, 2, 0, 1}).requires_grad_(),  // (2, 3, 3, 3)
        randn64({3}, 17)}},
      {"only the weight requires grad",
       [&](const std::vector<Tensor>& in) { return conv_transpose2d(x_fixed, in[0], Tensor(), 2, 1); },
       {randn64({2, 2, 4, 4}, 19)}},
  };
  REQUIRE(!cases[5].inputs[0].is_contiguous());
  REQUIRE(!cases[5].inputs[1].is_contiguous());
  for (CpuKernels k : kKernelSets) {
    ScopedCpuKernels scope(k);
    for (const Case& c : cases) {
      INFO("kernels: ", kernels_name(k), "; ", c.name);
      check_gradcheck(c.fn, c.inputs);
    }
  }
}

TEST_CASE("conv_transpose2d: the adjoint of conv2d, and conv2d_backward_input with the input as gradient") {
  // <conv2d(y, w), x> = <y, conv_transpose2d(x, w)> for every x, y: the defining property.
  const Size2 stride{2, 3}, padding{1, 2}, output_padding{1, 0};
  Tensor w = randn64({3, 2, 3, 4}, 30).detach();  // conv2d: 2 -> 3 channels; transposed: 3 -> 2
  Tensor x = randn64({2, 3, 4, 3}, 31).detach();  // transposed input
  Tensor up = conv_transpose2d(x, w, Tensor(), stride, padding, output_padding);
  REQUIRE(up.shape() == Shape{2, 2, 8, 6});
  Tensor y = randn64(up.shape(), 32).detach();
  Tensor down = conv2d(y, w, Tensor(), stride, padding);
  REQUIRE(down.shape() == x.shape());
  CHECK(dot(down, x) == doctest::Approx(dot(y, up)).epsilon(1e-12));
  check_close(up, conv2d_backward_input(x, w, up.shape(), stride, padding, 1), kF64, "conv2d_backward_input relation");
  // The bias adds to every pixel of its channel, including rows no window reaches.
  Tensor b = from_vector({0.5, -2.0}, {2}, {.dtype = DType::Float64});
  check_close(conv_transpose2d(x, w, b, stride, padding, output_padding), up + b.view({1, 2, 1, 1}), kF64, "bias");
}

TEST_CASE("conv_transpose2d: the fast kernel matches the reference, bit-identical on 1 and 2 threads") {
  struct Shape6 {
    int64_t N, C, H, W, O, K;
    Size2 stride, padding, output_padding;
  };
  const Shape6 shapes[] = {
      {2, 32, 8, 8, 16, 4, 2, 1, 0},  // a decoder stage (strided path: GEMM + col2im)
      {1, 3, 5, 4, 4, 3, 1, 1, 0},    // stride 1: the flipped-kernel convolution
      {2, 4, 3, 5, 3, 3, {2, 3}, {1, 0}, {1, 2}},
      {1, 2, 7, 6, 3, 3, 1, 3, 0},  // padding > k - 1: the strided fallback at stride 1
  };
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const Shape6& s : shapes) {
      Generator gen(40);
      Tensor x = randn({s.N, s.C, s.H, s.W}, {.dtype = dtype}, &gen);
      Tensor w = randn({s.C, s.O, s.K, s.K}, {.dtype = dtype}, &gen);
      Tensor b = randn({s.O}, {.dtype = dtype}, &gen);
      Tensor expected;
      {
        ScopedCpuKernels ref(CpuKernels::Reference);
        expected = conv_transpose2d(x, w, b, s.stride, s.padding, s.output_padding);
      }
      ScopedCpuKernels fast(CpuKernels::Fast);
      std::vector<Tensor> results;
      for (int threads : {1, 2}) {
        ScopedCpuConfig config({cpu::detected_isa(), threads});
        results.push_back(conv_transpose2d(x, w, b, s.stride, s.padding, s.output_padding));
      }
      const Tolerance tol = dtype == DType::Float32 ? kConvF32 : kF64;
      check_close(results[0], expected, tol, "fast vs reference, " + std::string(dtype_name(dtype)));
      CHECK(max_abs_diff(results[0], results[1]) == 0.0);
    }
  }
}

TEST_CASE("conv_transpose2d: errors name the op and the problem") {
  Tensor x = zeros({1, 3, 4, 4}), w = zeros({3, 2, 3, 3});
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, Tensor(), 2, 1, 2),
                       doctest::Contains("conv_transpose2d: output_padding (2, 2) must be non-negative and smaller "
                                         "than the stride (2, 2)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, Tensor(), 1, 0, 1), doctest::Contains("smaller than the stride (1, 1)"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, Tensor(), {2, 2}, 0, {0, -1}), doctest::Contains("output_padding"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, zeros({2, 3, 3, 3})),
                       doctest::Contains("conv_transpose2d: input [1, 3, 4, 4] has 3 channels but weight [2, 3, 3, 3] "
                                         "expects 2 (C_in is the weight's dim 0"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(zeros({3, 4, 4}), w),
                       doctest::Contains("conv_transpose2d: expected a 4-D input (N, C, H, W), got [3, 4, 4]"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, zeros({3, 2, 3})),
                       doctest::Contains("conv_transpose2d: expected a 4-D weight (C_in, C_out, kH, kW)"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, zeros({3})),
                       doctest::Contains("conv_transpose2d: bias of shape [3] does not match weight [3, 2, 3, 3] "
                                         "(expected [2]"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, Tensor(), 0), doctest::Contains("stride must be positive"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w, Tensor(), 1, -1), doctest::Contains("padding must be non-negative"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(zeros({1, 3, 1, 1}), w, Tensor(), 1, 2),
                       doctest::Contains("gives an empty output [-1, -1]"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, w.to(DType::Float64)), doctest::Contains("conv_transpose2d: dtype mismatch"),
                       Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(zeros({1, 3, 4, 4}, {.dtype = DType::Int64}), w),
                       doctest::Contains("conv_transpose2d: expected a floating input"), Error);
  CHECK_THROWS_WITH_AS(conv_transpose2d(x, Tensor()), doctest::Contains("conv_transpose2d: weight is undefined"),
                       Error);
}

TEST_CASE("nn::ConvTranspose2d: PyTorch names and layout, default init, summary, forward") {
  Generator gen(50);
  nn::ConvTranspose2d layer(6, 4, 3, 2, 1, 1, true, &gen);
  auto params = layer.named_parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].first == "weight");
  CHECK(params[0].second.shape() == Shape{6, 4, 3, 3});  // (in, out, kH, kW)
  CHECK(params[1].first == "bias");
  CHECK(params[1].second.shape() == Shape{4});
  // PyTorch's default: U(-b, b), b = 1/sqrt(fan_in), fan_in from the weight's dim 1: 4*3*3 = 36.
  const double bound = 1.0 / 6.0;
  for (const Tensor& t : {layer.weight, layer.bias}) CHECK(max(abs(t)).item() <= bound);
  CHECK(max(layer.weight).item() > 0.9 * bound);  // 216 draws fill the interval
  CHECK(min(layer.weight).item() < -0.9 * bound);
  Generator same(50);
  CHECK(max_abs_diff(nn::ConvTranspose2d(6, 4, 3, 2, 1, 1, true, &same).weight, layer.weight) == 0.0);

  CHECK(layer.summary().find("ConvTranspose2d(6, 4, kernel_size=3, stride=2, padding=1, output_padding=1)") !=
        std::string::npos);
  CHECK(nn::ConvTranspose2d(2, 1, {4, 2}, 1, 0, 0, false).extra_repr() ==
        "2, 1, kernel_size=(4, 2), stride=1, bias=False");

  Tensor x = randn({2, 6, 5, 5}, {}, &gen);
  Tensor y = layer(x);
  CHECK(y.shape() == Shape{2, 4, 10, 10});
  check_close(y, conv_transpose2d(x, layer.weight, layer.bias, 2, 1, 1), {0, 0}, "layer vs op");
  CHECK_THROWS_WITH_AS(nn::ConvTranspose2d(2, 2, 3, 2, 0, 2),
                       doctest::Contains("ConvTranspose2d: output_padding 2 must be non-negative and smaller"), Error);
}
