// bench_ops.cpp — the memory-bound kernels of a training step through their kernel tables (fast
// unless CXR_KERNELS=reference): softmax and layer norm at the transformer encoder's shapes
// (attention scores 8 x 4 heads x 320 x 320; activations 8 x 320 x 256), batch norm at the
// ResNet's largest and a mid-size activation, and elementwise add / ReLU / copy (copy is the
// bandwidth reference for the others). Counter GB/s: the
// minimum bytes moved (each input read once, each output written once) per second.
#include <benchmark/benchmark.h>

#include "tensor/cpu/runtime.h"
#include "ops/ops.h"
#include "tensor/random.h"

using namespace cxr;

namespace {

void set_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

void Softmax(benchmark::State& state) {  // rows x 320, along the last dim
  const bool log = state.range(1) != 0;
  Generator g(1);
  Tensor x = randn({state.range(0), 320}, {}, &g) * 4.0, out = empty(x.shape());
  for (auto _ : state) softmax_kernel(Device::CPU)(x, 1, log, out);
  set_bytes(state, 2.0 * 4 * double(x.numel()));
  state.SetLabel(log ? "log_softmax" : "softmax");
}

void LayerNorm(benchmark::State& state) {  // (8, 320, 256) over the last dim
  const bool backward = state.range(0) != 0;
  Generator g(2);
  Tensor x = randn({8, 320, 256}, {}, &g), w = randn({256}, {}, &g), b = randn({256}, {}, &g);
  Tensor out = empty(x.shape()), mean = empty({8, 320}), rstd = empty({8, 320});
  layer_norm_forward_kernel(Device::CPU)(x, 1, w, b, 1e-5, out, mean, rstd);
  Tensor go = randn(x.shape(), {}, &g), gx = empty(x.shape()), gw = empty({256}), gb = empty({256});
  for (auto _ : state) {
    if (backward)
      layer_norm_backward_kernel(Device::CPU)(go, x, 1, w, mean, rstd, gx, gw, gb);
    else
      layer_norm_forward_kernel(Device::CPU)(x, 1, w, b, 1e-5, out, mean, rstd);
  }
  set_bytes(state, (backward ? 3.0 : 2.0) * 4 * double(x.numel()));
  state.SetLabel(backward ? "backward" : "forward");
}

void BatchNorm(benchmark::State& state) {  // train mode, (8, C, S, S)
  const bool backward = state.range(0) != 0;
  const int64_t C = state.range(1), S = state.range(2);
  Generator g(3);
  Tensor x = randn({8, C, S, S}, {}, &g), w = ones({C}), b = zeros({C}), rm = zeros({C}), rv = ones({C});
  Tensor out = empty(x.shape()), mean = empty({C}), invstd = empty({C});
  batch_norm_forward_kernel(Device::CPU)(x, w, b, rm, rv, true, 0.1, 1e-5, out, mean, invstd);
  Tensor go = randn(x.shape(), {}, &g), gx = empty(x.shape()), gw = empty({C}), gb = empty({C});
  for (auto _ : state) {
    if (backward)
      batch_norm_backward_kernel(Device::CPU)(go, x, w, mean, invstd, true, gx, gw, gb);
    else
      batch_norm_forward_kernel(Device::CPU)(x, w, b, rm, rv, true, 0.1, 1e-5, out, mean, invstd);
  }
  set_bytes(state, (backward ? 3.0 : 2.0) * 4 * double(x.numel()));
  state.SetLabel(backward ? "backward" : "forward");
}

void Elementwise(benchmark::State& state) {  // (8, 8, 256, 256): the ResNet's largest activation
  const int op = int(state.range(0));
  Generator g(4);
  Tensor a = randn({8, 8, 256, 256}, {}, &g), b = randn({8, 8, 256, 256}, {}, &g), out = empty(a.shape());
  for (auto _ : state) {
    if (op == 0) binary_kernel(Device::CPU)(BinaryOp::Add, a, b, out);
    if (op == 1) unary_kernel(Device::CPU)(UnaryOp::Relu, a, out, {});
    if (op == 2) copy_kernel(Device::CPU)(out, a);  // the bandwidth reference: memcpy on each thread's chunk
  }
  set_bytes(state, (op == 0 ? 3.0 : 2.0) * 4 * double(a.numel()));
  state.SetLabel(op == 0 ? "add" : op == 1 ? "relu" : "copy");
}

}  // namespace

BENCHMARK(Softmax)->Args({8 * 4 * 320, 0})->Args({8 * 4 * 320, 1})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(LayerNorm)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BatchNorm)
    ->Args({0, 8, 256})
    ->Args({1, 8, 256})
    ->Args({0, 64, 16})
    ->Args({1, 64, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(Elementwise)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
