// test_cuda_conv_ladder.cpp — the convolution ladder (cuda/kernels/conv2d/, docs/KERNELS.md): every
// version of each pass (forward, backward data, backward weight) against the CPU's float64 pass on
// odd shapes (C = 1, stride 2, padding, dilation, odd H and W, 1x1 and 7x7 and 3x2 kernels, channel
// counts that fill no tile, reductions long enough to be split), with bias where a pass takes one,
// every output element written (the buffer starts as NaN) and a second run bit-identical; the rule
// that picks a version per pass and layer of resnet256_6_2_1; CXR_CUDA_VERSION_CONV2D through the
// backend's own conv kernels; the errors. Tolerances: bench/cuda/conv2d.cpp (conv2d_tolerance).
// The device cases run on the emulator in make test-cuda-emulated.
#if defined(CXR_HAS_CUDA)

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bench/cuda/conv2d.h"
#include "bench/cuda/harness.h"
#include "cuda/kernels/conv2d/conv2d.h"
#include "cuda_testing.h"
#include "ops/conv.h"

using namespace cxr;
using namespace cxr::testing;
using cuda::Conv2dShape;
using cuda::ConvPass;

namespace {

const ConvPass kPasses[] = {ConvPass::Forward, ConvPass::BackwardData, ConvPass::BackwardWeight};

struct LadderCase {
  const char* what;
  Conv2dShape s;
};

std::vector<LadderCase> ladder_cases() {
  using cuda::conv2d_shape;
  return {
      {"C_in = 1, 3x3, padding 1 (the stem)", conv2d_shape(2, 1, 9, 11, 8, 3, 3, {1, 1, 1})},
      {"8 -> 8, 3x3, stride 2, odd H and W", conv2d_shape(2, 8, 9, 10, 8, 3, 3, {2, 1, 1})},
      {"8 -> 12, 3x3, padding 1, dilation 2", conv2d_shape(1, 8, 11, 9, 12, 3, 3, {1, 1, 2})},
      {"8 -> 8, 1x1, stride 2 (the projection)", conv2d_shape(2, 8, 9, 10, 8, 1, 1, {2, 0, 1})},
      {"3 -> 5, 7x7, stride 2, padding 3 (49 taps)", conv2d_shape(1, 3, 15, 13, 5, 7, 7, {2, 3, 1})},
      {"5 -> 3, 3x2, stride (2, 1), padding (1, 0), dilation (1, 2)",
       conv2d_shape(2, 5, 7, 9, 3, 3, 2, {{2, 1}, {1, 0}, {1, 2}})},
      {"32 -> 10, 3x3 on 5x7: K = 288, forward split in chunks", conv2d_shape(1, 32, 5, 7, 10, 3, 3, {1, 1, 1})},
      {"4 -> 70, 1x1: two tiles of channels", conv2d_shape(1, 4, 5, 6, 70, 1, 1, {1, 0, 1})},
      {"2 -> 3 on 2x17x19: N HO WO = 646, weight split in chunks", conv2d_shape(2, 2, 17, 19, 3, 3, 3, {1, 1, 1})},
      {"a 1x1 output (the window covers the input)", conv2d_shape(1, 2, 3, 3, 4, 3, 3, {1, 0, 1})},
      {"dilation 40: v2's tile does not fit, it runs v1", conv2d_shape(1, 2, 90, 90, 2, 3, 3, {1, 0, 40})},
  };
}

Tensor uniform(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return rand(shape, {}, &g) * 2.0 - 1.0;
}

// One pass of one version: inputs (a, b) = (x, w), (g, w) or (g, x); the output starts as NaN.
Tensor run_pass(int version, ConvPass pass, const Tensor& a, const Tensor& b, const Tensor& bias, const Shape& out_shape,
                const Conv2dParams& p) {
  Tensor out = full(out_shape, std::numeric_limits<double>::quiet_NaN(), {.device = Device::CUDA});
  if (pass == ConvPass::Forward) cuda::conv2d_forward_version(version, a, b, bias, out, p);
  else if (pass == ConvPass::BackwardData) cuda::conv2d_backward_data_version(version, a, b, bias, out, p);
  else cuda::conv2d_backward_weight_version(version, a, b, out, p);
  return out.to(Device::CPU);
}

void check_case(const LadderCase& c, ConvPass pass, int version, bool with_bias, uint64_t seed) {
  const Conv2dShape& s = c.s;
  INFO("case ", std::string(c.what), " (", cuda::conv2d_shape_str(s), "), ", std::string(cuda::conv_pass_name(pass)),
       ", version ", version, std::string(with_bias ? ", with bias" : ""));
  const Shape x{s.N, s.C_in, s.H, s.W}, y{s.N, s.C_out, s.HO, s.WO}, w{s.C_out, s.C_in, s.KH, s.KW};
  const Tensor a = uniform(pass == ConvPass::Forward ? x : y, seed), b = uniform(pass == ConvPass::BackwardWeight ? x : w, seed + 1);
  const Shape out_shape = pass == ConvPass::Forward ? y : pass == ConvPass::BackwardData ? x : w;
  const int64_t bias_channels = pass == ConvPass::Forward ? s.C_out : s.C_in;
  const Tensor bias = with_bias ? uniform({bias_channels}, seed + 2) : Tensor();
  const Conv2dParams p = cuda::conv2d_params(s);
  const Tensor ad = a.to(Device::CUDA), bd = b.to(Device::CUDA), biasd = with_bias ? bias.to(Device::CUDA) : Tensor();
  const Tensor first = run_pass(version, pass, ad, bd, biasd, out_shape, p);
  const Tensor second = run_pass(version, pass, ad, bd, biasd, out_shape, p);
  CHECK_MESSAGE(bitwise_equal(first, second), "a second run differs");
  Tensor reference = bench::conv2d_reference(pass, a, b, s);
  if (with_bias) reference = reference + bias.to(DType::Float64).reshape({1, bias_channels, 1, 1});
  const bench::CheckResult r = bench::check_against_reference(first, reference, bench::conv2d_tolerance(pass, s));
  CHECK_MESSAGE(r.ok, r.bad, " of ", r.checked, " elements outside the tolerance (max abs error ", r.max_abs_error,
                "); first ", r.first_bad);
  CHECK(r.checked == first.numel());  // no NaN left: every element written
}

}  // namespace

TEST_CASE("cuda conv2d ladder: four versions, CXR_CUDA_VERSION_CONV2D overrides the rule") {
  const cuda::KernelLadder& ladder = cuda::conv2d_ladder();
  REQUIRE(ladder.versions.size() == 4);
  CHECK(ladder.version(1).name == "v1_direct");
  CHECK(ladder.version(3).name == "v3_implicit_gemm");
  for (const cuda::KernelVersion& v : ladder.versions) CHECK((v.exact_fp32 && v.emulated));
  const Conv2dShape early = cuda::conv2d_shape(64, 8, 128, 128, 8, 3, 3, {1, 1, 1});
  {
    ScopedEnv unset("CXR_CUDA_VERSION_CONV2D", std::nullopt);
    CHECK(cuda::conv2d_version(ConvPass::Forward, early) == 2);
  }
  for (int n = 1; n <= 4; ++n) {
    ScopedEnv env("CXR_CUDA_VERSION_CONV2D", std::to_string(n));
    for (ConvPass pass : kPasses) CHECK(cuda::conv2d_version(pass, early) == n);
  }
  for (const char* bad : {"0", "5", "x"}) {
    ScopedEnv env("CXR_CUDA_VERSION_CONV2D", bad);
    const std::string message = error_of([&] { cuda::conv2d_version(ConvPass::Forward, early); });
    INFO("value '", bad, "': ", message);
    CHECK(message.find("CXR_CUDA_VERSION_CONV2D") != std::string::npos);
    CHECK(message.find("4 (v4_implicit_gemm_tuned)") != std::string::npos);
  }
}

TEST_CASE("cuda conv2d ladder: the rule gives resnet256_6_2_1's early layers v2 and its late ones v4") {
  const std::vector<bench::ConvLayer> layers = bench::resnet_conv_layers("resnet256_6_2_1", 64);
  REQUIRE(layers.size() == 31);  // the stem and 6 layers of 2 blocks: 2 convs each, + 1 downsample per layer
  CHECK(layers.front().name == "conv1");
  CHECK(cuda::conv2d_shape_str(layers.front().shape) == "64x1x256x256 -> 8, 3x3, stride 1, pad 1, dil 1");
  CHECK(layers[1].name == "layer1.0.conv1");
  CHECK(cuda::conv2d_shape_str(layers[1].shape) == "64x8x256x256 -> 8, 3x3, stride 2, pad 1, dil 1");
  CHECK(layers[3].name == "layer1.0.downsample.0");
  CHECK(cuda::conv2d_shape_str(layers[3].shape) == "64x8x256x256 -> 8, 1x1, stride 2, pad 0, dil 1");
  CHECK(layers.back().name == "layer6.1.conv2");
  CHECK(cuda::conv2d_shape_str(layers.back().shape) == "64x192x4x4 -> 192, 3x3, stride 1, pad 1, dil 1");
  for (const bench::ConvLayer& l : layers) {
    const Conv2dShape& s = l.shape;
    INFO(l.name, ": ", cuda::conv2d_shape_str(s));
    CHECK(cuda::conv2d_rule_version(ConvPass::Forward, s) == (s.C_out <= 16 ? 2 : 4));
    CHECK(cuda::conv2d_rule_version(ConvPass::BackwardData, s) == (s.C_in <= 16 ? 2 : 4));
    CHECK(cuda::conv2d_rule_version(ConvPass::BackwardWeight, s) == (s.C_out <= 16 && s.C_in <= 16 ? 2 : 4));
  }
  // Past 32-bit indices only v3 runs; where v2's tile does not fit, v4.
  const Conv2dShape huge = cuda::conv2d_shape(40000, 8, 128, 128, 8, 3, 3, {1, 1, 1});
  for (ConvPass pass : kPasses) CHECK(cuda::conv2d_rule_version(pass, huge) == 3);
  const Conv2dShape dilated = cuda::conv2d_shape(1, 2, 90, 90, 2, 3, 3, {1, 0, 40});
  CHECK(cuda::conv2d_rule_version(ConvPass::Forward, dilated) == 4);
}

TEST_CASE("cuda conv2d ladder: every version of each pass equals the float64 reference on odd shapes") {
  if (!cuda_ready()) return;
  uint64_t seed = 100;
  for (const LadderCase& c : ladder_cases())
    for (ConvPass pass : kPasses)
      for (const cuda::KernelVersion& v : cuda::conv2d_ladder().versions) check_case(c, pass, v.number, false, seed += 3);
  // Bias: forward's per output channel, backward data's per input channel (conv_transpose2d's).
  const std::vector<LadderCase> cases = ladder_cases();
  for (const LadderCase& c : {cases[1], cases[6]})
    for (ConvPass pass : {ConvPass::Forward, ConvPass::BackwardData})
      for (const cuda::KernelVersion& v : cuda::conv2d_ladder().versions) check_case(c, pass, v.number, true, seed += 3);
}

TEST_CASE("cuda conv2d ladder: the backend's conv kernels run the version CXR_CUDA_VERSION_CONV2D names") {
  if (!cuda_ready()) return;
  // 8 -> 8 at stride 2 (the rule: v2) through the ops on CUDA tensors, each version forced in turn.
  const Tensor x = uniform({2, 8, 9, 10}, 7), w = uniform({8, 8, 3, 3}, 8), g = uniform({2, 8, 5, 5}, 9);
  const Tensor y_ref = conv2d(x, w, Tensor(), 2, 1), gx_ref = conv2d_backward_input(g, w, x.shape(), 2, 1, 1),
               gw_ref = conv2d_backward_weight(g, x, w.shape(), 2, 1, 1);
  const Tensor xd = x.to(Device::CUDA), wd = w.to(Device::CUDA), gd = g.to(Device::CUDA);
  for (int n = 1; n <= 4; ++n) {
    INFO("CXR_CUDA_VERSION_CONV2D=", n);
    ScopedEnv env("CXR_CUDA_VERSION_CONV2D", std::to_string(n));
    check_close(conv2d(xd, wd, Tensor(), 2, 1).to(Device::CPU), y_ref, sum_tolerance(DType::Float32, 72), "forward");
    check_close(conv2d_backward_input(gd, wd, x.shape(), 2, 1, 1).to(Device::CPU), gx_ref,
                sum_tolerance(DType::Float32, 72), "backward data");
    check_close(conv2d_backward_weight(gd, xd, w.shape(), 2, 1, 1).to(Device::CPU), gw_ref,
                sum_tolerance(DType::Float32, 50), "backward weight");
  }
  ScopedEnv bad("CXR_CUDA_VERSION_CONV2D", "9");
  CHECK(error_of([&] { conv2d(xd, wd, Tensor(), 2, 1); }).find("CXR_CUDA_VERSION_CONV2D=9") != std::string::npos);
}

TEST_CASE("cuda conv2d ladder: bad arguments are errors naming the pass and the problem") {
  if (!cuda_ready()) return;
  const Conv2dParams p{1, 1, 1};
  const Tensor x = zeros({1, 2, 5, 5}, {.device = Device::CUDA}), w = zeros({3, 2, 3, 3}, {.device = Device::CUDA});
  const Tensor out = zeros({1, 3, 5, 5}, {.device = Device::CUDA});
  CHECK(error_of([&] { cuda::conv2d_forward_version(5, x, w, Tensor(), out, p); }).find("no kernel version 5") !=
        std::string::npos);
  const std::string shape_error =
      error_of([&] { cuda::conv2d_forward_version(1, x, w, Tensor(), zeros({1, 3, 4, 5}, {.device = Device::CUDA}), p); });
  CHECK(shape_error.find("conv2d forward") != std::string::npos);
  CHECK(shape_error.find("do not fit") != std::string::npos);
  const Tensor x64 = zeros({1, 2, 5, 5}, {DType::Float64, Device::CUDA});
  CHECK(error_of([&] { cuda::conv2d_backward_weight_version(4, out, x64, zeros({3, 2, 3, 3}, {.device = Device::CUDA}), p); })
            .find("float32") != std::string::npos);
  CHECK(error_of([&] { cuda::conv2d_forward_version(2, x, w, zeros({4}, {.device = Device::CUDA}), out, p); })
            .find("bias") != std::string::npos);
  CHECK(error_of([&] { cuda::conv2d_shape(1, 2, 2, 2, 3, 5, 5, p); }).find("larger than the padded input") !=
        std::string::npos);
}

#endif  // CXR_HAS_CUDA
