// test_cuda_conv.cpp — the CUDA convolution and pooling kernels (cuda/conv.cu, cuda/pool.cu) against
// the CPU reference, forward and backward through the ops (cuda_testing.h): the seed ResNets' layers
// scaled down (1 -> 8 and 8 -> 8 channels, 3x3 at stride 1 and 2, padding 1, dilation 2, the 1x1
// projection, a 7x7 stem), bias and none, non-contiguous inputs and weights, conv_transpose2d at
// stride 2 with output_padding 1, a grad weight long enough for its split-K, and every pool with
// padding, overlapping windows, ties and NaN; float32 and float64; each case run twice.
// Tolerances: convolutions as GEMMs, sum_tolerance (cuda_testing.h) of each pass's reduction length
// (forward C_in kH kW; grad input C_out kH kW; grad weight N H_out W_out). Pools are exact: their
// kernels make the CPU reference's additions in its order (cuda/pool.cu).
#include <algorithm>

#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

const Tolerance kExact{0, 0};

struct ConvCase {
  const char* name;
  Shape x, w;
  Size2 stride, padding, dilation;
};

// The scaled-down ResNet layers.
const std::vector<ConvCase>& conv_cases() {
  static const std::vector<ConvCase> cases = {
      {"1 -> 8, 3x3, stride 1, padding 1", {2, 1, 9, 11}, {8, 1, 3, 3}, 1, 1, 1},
      {"8 -> 8, 3x3, stride 1, padding 1", {2, 8, 9, 10}, {8, 8, 3, 3}, 1, 1, 1},
      {"8 -> 8, 3x3, stride 2, padding 1", {2, 8, 9, 10}, {8, 8, 3, 3}, 2, 1, 1},
      {"8 -> 8, 3x3, padding 1, dilation 2", {1, 8, 11, 9}, {8, 8, 3, 3}, 1, 1, 2},
      {"8 -> 8, 1x1, stride 2 (the projection; the last column is no window's)", {2, 8, 9, 10}, {8, 8, 1, 1}, 2, 0, 1},
      {"3 -> 8, 7x7, stride 2, padding 3 (the stem; K = 147: several K tiles)", {1, 3, 15, 13}, {8, 3, 7, 7}, 2, 3, 1},
      {"8 -> 5, 3x2, stride (2, 1), padding (1, 0), dilation (1, 2)", {2, 8, 7, 9}, {5, 8, 3, 2}, {2, 1}, {1, 0}, {1, 2}},
  };
  return cases;
}

// The output extent of a window (ops/conv.cpp).
int64_t out_extent(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// The reduction lengths of conv2d's passes: forward, and the longer of the two backward ones.
struct ConvReductions {
  int64_t forward, backward;
};
ConvReductions reductions(const ConvCase& c) {
  const int64_t ho = out_extent(c.x[2], c.w[2], c.stride.h, c.padding.h, c.dilation.h);
  const int64_t wo = out_extent(c.x[3], c.w[3], c.stride.w, c.padding.w, c.dilation.w);
  return {c.w[1] * c.w[2] * c.w[3], std::max(c.w[0] * c.w[2] * c.w[3], c.x[0] * ho * wo)};
}

void check_conv(const std::string& name, std::vector<Tensor> inputs, std::function<Tensor(const std::vector<Tensor>&)> op,
                DType dtype, ConvReductions k) {
  BackendCase c{name + " " + dtype_name(dtype), std::move(inputs), std::move(op)};
  c.forward = sum_tolerance(dtype, k.forward);
  c.backward = sum_tolerance(dtype, k.backward);
  check_backend(c);
}

void check_pool(const std::string& name, const Tensor& x, std::function<Tensor(const Tensor&)> op) {
  BackendCase c{name + " " + dtype_name(x.dtype()), {x}, [op](const std::vector<Tensor>& in) { return op(in[0]); }};
  c.forward = c.backward = kExact;
  check_backend(c);
}

// Small integers: max pools with many ties, inside a window and across overlapping windows.
Tensor tied_input(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  return randint(-2, 3, shape, {.dtype = DType::Int64}, &g).to(dtype);
}

}  // namespace

TEST_CASE("cuda conv2d: the ResNet layers scaled down, forward and both gradients, float32 and float64") {
  if (!cuda_ready()) return;
  uint64_t seed = 1;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const ConvCase& cc : conv_cases()) {
      check_conv(std::string("conv2d ") + cc.name, {random_input(cc.x, dtype, seed++), random_input(cc.w, dtype, seed++)},
                 [&cc](const std::vector<Tensor>& in) {
                   return conv2d(in[0], in[1], Tensor(), cc.stride, cc.padding, cc.dilation);
                 },
                 dtype, reductions(cc));
    }
}

TEST_CASE("cuda conv2d: bias, non-contiguous input and weight") {
  if (!cuda_ready()) return;
  const ConvCase& cc = conv_cases()[2];  // 8 -> 8, 3x3, stride 2, padding 1
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // The bias is added in the GEMM's store; it is a constant here because its gradient is a sum
    // over (N, H, W), which the reduction kernels compute, not this file's.
    const Tensor bias = random_input({8}, dtype, 40);
    check_conv("conv2d with bias", {random_input(cc.x, dtype, 41), random_input(cc.w, dtype, 42)},
               [&cc, bias](const std::vector<Tensor>& in) {
                 return conv2d(in[0], in[1], copy_to(bias, in[0].device()), cc.stride, cc.padding, cc.dilation);
               },
               dtype, reductions(cc));
    // x stored channels-last (N, H, W, C) and w with its kernel's rows and columns swapped: both
    // read through their strides. Every other bias element: a strided bias.
    const Tensor bias2 = random_input({16}, dtype, 43);
    check_conv("conv2d, channels-last input, transposed weight, strided bias",
               {random_input({2, 9, 10, 8}, dtype, 44), random_input({8, 8, 3, 3}, dtype, 45)},
               [&cc, bias2](const std::vector<Tensor>& in) {
                 const Tensor b = copy_to(bias2, in[0].device()).slice(0, 0, 16, 2);
                 return conv2d(in[0].permute({0, 3, 1, 2}), in[1].transpose(2, 3), b, cc.stride, cc.padding, cc.dilation);
               },
               dtype, reductions(cc));
  }
}

TEST_CASE("cuda conv_transpose2d: stride 2, padding 1, output_padding 1, with and without bias") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // x (2, 8, 5, 5), w (8, 4, 3, 3): out (2, 4, 10, 10). Its forward is the grad-input GEMM
    // (reduction C_in kH kW = 72); its gradients are conv2d of g (72) and a grad weight (2 * 25).
    const Tensor bias = random_input({4}, dtype, 50);
    for (bool with_bias : {false, true}) {
      BackendCase c{std::string("conv_transpose2d") + (with_bias ? " with bias " : " ") + dtype_name(dtype),
                    {random_input({2, 8, 5, 5}, dtype, 51), random_input({8, 4, 3, 3}, dtype, 52)},
                    [bias, with_bias](const std::vector<Tensor>& in) {
                      const Tensor b = with_bias ? copy_to(bias, in[0].device()) : Tensor();
                      return conv_transpose2d(in[0], in[1], b, 2, 1, 1);
                    }};
      c.forward = c.backward = sum_tolerance(dtype, 72);
      check_backend(c);
    }
  }
}

TEST_CASE("cuda conv2d_backward_weight: a K of 20000 split into chunks, bit-identical across runs") {
  if (!cuda_ready()) return;
  // Grad weight is a (3 x 18) GEMM with K = N H_out W_out = 2 * 100 * 100 = 20000: one tile, so its
  // K is split (cuda/conv.cu: 20 chunks of 1000) and the chunks' partial sums are added in order.
  // check_backend's second run must reproduce every bit.
  BackendCase c{"conv2d 2 -> 3, 3x3, padding 1, on 100x100, batch 2",
                {random_input({2, 2, 100, 100}, DType::Float32, 60), random_input({3, 2, 3, 3}, DType::Float32, 61)},
                [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), 1, 1); }};
  c.forward = sum_tolerance(DType::Float32, 18);
  c.backward = sum_tolerance(DType::Float32, 20000);
  check_backend(c);
}

TEST_CASE("cuda max_pool2d: padding, overlapping windows, ties, NaN, values, indices and gradients") {
  if (!cuda_ready()) return;
  struct PoolCase {
    const char* name;
    Size2 kernel, stride, padding;
  };
  const std::vector<PoolCase> cases = {{"3x3, stride 2, padding 1 (the stem pool)", 3, 2, 1},
                                       {"3x3, stride 1, padding 1 (overlapping)", 3, 1, 1},
                                       {"2x2, stride 2", 2, 2, 0},
                                       {"3x2, stride (2, 1), padding (1, 0)", {3, 2}, {2, 1}, {1, 0}}};
  uint64_t seed = 70;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const PoolCase& pc : cases) {
      Tensor with_nan = random_input({2, 3, 9, 10}, dtype, seed++);
      with_nan.set({0, 1, 4, 4}, NAN), with_nan.set({1, 2, 0, 9}, NAN), with_nan.set({1, 2, 1, 8}, NAN);
      const std::vector<std::pair<const char*, Tensor>> inputs = {
          {"normal", random_input({2, 3, 9, 10}, dtype, seed++)},
          {"ties", tied_input({2, 3, 9, 10}, dtype, seed++)},
          {"NaN", with_nan}};
      for (const auto& [what, x] : inputs) {
        const std::string name = std::string("max_pool2d ") + pc.name + ", " + what;
        check_pool(name, x, [&pc](const Tensor& t) { return max_pool2d(t, pc.kernel, pc.stride, pc.padding); });
        BackendCase idx{name + " indices", {x}, [&pc](const std::vector<Tensor>& in) {
                          return max_pool2d_with_indices(in[0], pc.kernel, pc.stride, pc.padding).second;
                        }};
        idx.forward = kExact;
        idx.grad = false;
        check_backend(idx);
      }
      // A non-contiguous input: the planes stored transposed.
      check_pool(std::string("max_pool2d ") + pc.name + ", transposed planes", tied_input({2, 3, 10, 9}, dtype, seed++),
                 [&pc](const Tensor& t) { return max_pool2d(t.transpose(2, 3), pc.kernel, pc.stride, pc.padding); });
    }
}

TEST_CASE("cuda max_pool2d_backward: any in-range indices, and the CPU's error for a bad one") {
  if (!cuda_ready()) return;
  // Indices no max pool would record (anywhere in the plane, repeated): the gather still routes
  // each gradient where the CPU's scatter does.
  const Tensor g = random_input({2, 3, 4, 5}, DType::Float64, 80);
  const Tensor idx = randint(0, 7 * 6, {2, 3, 4, 5});
  const Tensor cpu = max_pool2d_backward(g, idx, {2, 3, 7, 6});
  const Tensor cuda = max_pool2d_backward(copy_to(g, Device::CUDA), copy_to(idx, Device::CUDA), {2, 3, 7, 6});
  check_close(copy_to(cuda, Device::CPU), cpu, kExact, "max_pool2d_backward with arbitrary indices");
  // Out-of-range indices: the first in row-major order is named, as on the CPU.
  for (const std::vector<double>& values : {std::vector<double>{3, 30, -2, 4}, std::vector<double>{-1, 2, 25, 0}}) {
    const Tensor bad = from_vector(values, {1, 1, 2, 2}, {.dtype = DType::Int64});
    const Tensor grad = ones({1, 1, 2, 2});
    std::string cpu_error, cuda_error;
    try {
      max_pool2d_backward(grad, bad, {1, 1, 5, 5});
    } catch (const Error& e) {
      cpu_error = e.what();
    }
    try {
      max_pool2d_backward(copy_to(grad, Device::CUDA), copy_to(bad, Device::CUDA), {1, 1, 5, 5});
    } catch (const Error& e) {
      cuda_error = e.what();
    }
    CHECK(cpu_error.find("out of range for an input plane of 5x5") != std::string::npos);
    CHECK(cuda_error == cpu_error);
  }
}

TEST_CASE("cuda avg_pool2d: padding with and without count_include_pad, overlapping windows") {
  if (!cuda_ready()) return;
  struct PoolCase {
    const char* name;
    Size2 kernel, stride, padding;
  };
  const std::vector<PoolCase> cases = {{"3x3, stride 2, padding 1", 3, 2, 1},
                                       {"3x3, stride 1, padding 1 (overlapping)", 3, 1, 1},
                                       {"2x2, stride 2", 2, 2, 0},
                                       {"3x2, stride (1, 2), padding (1, 1)", {3, 2}, {1, 2}, {1, 1}}};
  uint64_t seed = 90;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const PoolCase& pc : cases)
      for (bool include_pad : {true, false}) {
        const std::string name = std::string("avg_pool2d ") + pc.name + (include_pad ? "" : ", count_include_pad off");
        check_pool(name, random_input({2, 3, 9, 10}, dtype, seed++), [&pc, include_pad](const Tensor& t) {
          return avg_pool2d(t, pc.kernel, pc.stride, pc.padding, include_pad);
        });
        check_pool(name + ", transposed planes", random_input({2, 3, 10, 9}, dtype, seed++), [&pc, include_pad](const Tensor& t) {
          return avg_pool2d(t.transpose(2, 3), pc.kernel, pc.stride, pc.padding, include_pad);
        });
      }
}

TEST_CASE("cuda adaptive_avg_pool2d: overlapping, global and repeating windows") {
  if (!cuda_ready()) return;
  uint64_t seed = 110;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (Size2 out : {Size2(3, 4), Size2(1, 1), Size2(9, 11), Size2(7, 2)}) {
      const std::string name = "adaptive_avg_pool2d (2, 3, 7, 9) -> " + shape_str({out.h, out.w});
      check_pool(name, random_input({2, 3, 7, 9}, dtype, seed++),
                 [out](const Tensor& t) { return adaptive_avg_pool2d(t, out); });
      check_pool(name + ", channels-last", random_input({2, 7, 9, 3}, dtype, seed++),
                 [out](const Tensor& t) { return adaptive_avg_pool2d(t.permute({0, 3, 1, 2}), out); });
    }
}
