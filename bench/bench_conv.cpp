// bench_conv.cpp — every convolution shape of resnet256_6_2_1 at batch 8 (conv1, then per layer
// the stride-2 3x3, the stride-1 3x3 and the stride-2 1x1 downsample), each through its kernel
// table (fast unless CXR_KERNELS=reference): forward, backward input, backward weight.
// Counter GFLOP/s: 2 N O H_out W_out C kH kW per pass (the same for all three passes).
#include <benchmark/benchmark.h>

#include "tensor/cpu/runtime.h"
#include "ops/ops.h"
#include "tensor/random.h"

using namespace cxr;

namespace {

enum Pass { kForward = 0, kBackwardInput = 1, kBackwardWeight = 2 };

// args: pass, C_in, C_out, H_in (= W_in), kernel, stride (padding = kernel / 2)
void Conv(benchmark::State& state) {
  const int pass = int(state.range(0));
  const int64_t C = state.range(1), O = state.range(2), H = state.range(3), K = state.range(4), S = state.range(5);
  const int64_t N = 8, P = K / 2, HO = (H + 2 * P - K) / S + 1;
  const Conv2dParams p{S, P, 1};
  Generator g(3);
  Tensor x = randn({N, C, H, H}, {}, &g), w = randn({O, C, K, K}, {}, &g), go = randn({N, O, HO, HO}, {}, &g);
  Tensor out = empty({N, O, HO, HO}), gx = empty({N, C, H, H}), gw = empty({O, C, K, K});
  for (auto _ : state) {
    if (pass == kForward) conv2d_kernel(Device::CPU)(x, w, Tensor(), out, p);
    if (pass == kBackwardInput) conv2d_backward_input_kernel(Device::CPU)(go, w, gx, p);
    if (pass == kBackwardWeight) conv2d_backward_weight_kernel(Device::CPU)(go, x, gw, p);
  }
  const double flops = 2.0 * double(N * O * HO * HO * C * K * K);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.SetLabel(std::string(pass == kForward ? "fwd" : pass == kBackwardInput ? "bwd_in" : "bwd_w"));
}

void resnet256_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"pass", "C", "O", "H", "k", "s"});
  for (int pass : {kForward, kBackwardInput, kBackwardWeight}) {
    b->Args({pass, 1, 8, 256, 3, 1});  // conv1
    int64_t in = 8, h = 256;
    for (int64_t planes : {8, 16, 32, 64, 128, 192}) {
      b->Args({pass, in, planes, h, 3, 2});          // layerX.0.conv1
      b->Args({pass, planes, planes, h / 2, 3, 1});  // layerX.0.conv2, layerX.1.conv1/conv2
      b->Args({pass, in, planes, h, 1, 2});          // layerX.0.downsample
      in = planes, h /= 2;
    }
  }
}

}  // namespace

BENCHMARK(Conv)->Apply(resnet256_shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
