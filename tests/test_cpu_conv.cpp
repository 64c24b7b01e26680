// test_cpu_conv.cpp — the fast conv2d kernels (tensor/cpu/conv.cpp) against the reference loop
// nests, forward and both backward passes: odd sizes, strides, padding (including padding wider
// than the kernel, which takes the strided backward path), dilation, small images (all images in
// one GEMM), large ones (several pixel groups per image), many images per group; channels-last,
// strided and offset inputs, a permuted weight, a non-contiguous upstream gradient; float32 and
// float64; every instruction set, 1 and 2 threads, with bit-identical 1- and 2-thread results.
#include "cpu_testing.h"
#include "tensor/cpu/kernels.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, O, KH, KW;
  Conv2dParams p;
};

const ConvCase kCases[] = {
    {"resnet block 3x3 s1 p1", 2, 8, 33, 35, 8, 3, 3, {1, 1, 1}},
    {"resnet downsample 3x3 s2 p1", 2, 3, 17, 16, 5, 3, 3, {2, 1, 1}},
    {"1x1 s2", 3, 4, 9, 11, 6, 1, 1, {2, 0, 1}},
    {"stem 1 channel", 2, 1, 20, 18, 8, 3, 3, {1, 1, 1}},
    {"5x5 no padding", 1, 2, 13, 12, 3, 5, 5, {1, 0, 1}},
    {"padding wider than the kernel", 1, 2, 7, 6, 3, 3, 3, {1, 3, 1}},
    {"dilation 2", 2, 3, 15, 14, 4, 3, 3, {1, 2, 2}},
    {"mixed stride and dilation", 2, 3, 15, 17, 4, 3, 2, {Size2(2, 1), Size2(1, 0), Size2(1, 2)}},
    {"large image: several pixel groups", 1, 2, 70, 70, 3, 3, 3, {1, 1, 1}},
    {"many small images per group", 25, 2, 20, 20, 3, 3, 3, {1, 1, 1}},
    {"wide channels, tiny image", 2, 20, 4, 4, 24, 3, 3, {1, 1, 1}},
    // backward weight's row-dot path: stride 1, 3-wide rows, >= 1024 pixels, O a multiple of 8
    {"row-dot: 16 channels", 2, 16, 40, 37, 16, 3, 3, {1, 1, 1}},
    {"row-dot: no padding, one image", 1, 4, 40, 40, 8, 3, 3, {1, 0, 1}},
    {"row-dot: 5x3 kernel, odd padding", 3, 2, 36, 33, 8, 5, 3, {1, Size2(2, 1), 1}},
    {"small-channel stride 2, even width", 2, 8, 66, 64, 8, 3, 3, {2, 1, 1}},
    {"small-channel stride 2, odd width, no padding", 2, 3, 67, 71, 16, 3, 3, {2, 0, 1}},
};

// The rounding bound of a float sum of K products (any order), doubled for margin; `abs_result`
// is the same computation on |inputs| (reference kernel).
Tensor sum_bound(const Tensor& abs_result, int64_t K, DType dtype) {
  ScopedCpuKernels ref(CpuKernels::Reference);
  return abs_result * (2.0 * double(K) * unit_roundoff(dtype)) + 1e-30;
}

// Runs `kernel(out)` on every configuration: each result within `bound` of `expected`, and the 1-
// and 2-thread results of each instruction set identical.
template <typename Run>
void check_configs(const Tensor& expected, const Tensor& bound, const std::string& what, Run run) {
  for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (isa > cpu::detected_isa()) continue;
    Tensor one = full(expected.shape(), 777.0, expected.options()),
           two = full(expected.shape(), -3.0, expected.options());
    {
      ScopedCpuConfig c({isa, 1});
      run(one);
    }
    {
      ScopedCpuConfig c({isa, 2});
      run(two);
    }
    check_within(one, expected, bound, what + ", " + cpu::isa_name(isa));
    check_identical(one, two, what + ", " + cpu::isa_name(isa) + ": 1 vs 2 threads");
  }
}

Tensor make_input(const ConvCase& c, DType dtype, uint64_t seed, int variant) {
  switch (variant % 3) {
    case 0:
      return random_tensor({c.N, c.C, c.H, c.W}, dtype, seed);
    case 1:
      return random_tensor({c.N, c.H, c.W, c.C}, dtype, seed).permute({0, 3, 1, 2});  // channels-last
    default:
      return random_tensor({c.N, c.C, c.H, c.W}, dtype, seed, Layout::Strided);
  }
}

}  // namespace

TEST_CASE("conv2d_fast, conv2d_backward_input_fast, conv2d_backward_weight_fast match the reference kernels") {
  uint64_t seed = 500;
  int variant = 0;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const ConvCase& c : kCases) {
      ++variant;
      const std::string what = detail::concat(dtype_name(dtype), " ", c.name, " x [", c.N, ", ", c.C, ", ", c.H, ", ",
                                              c.W, "] w [", c.O, ", ", c.C, ", ", c.KH, ", ", c.KW, "]");
      const Conv2dParams& p = c.p;
      Tensor x = make_input(c, dtype, ++seed, variant);
      Tensor w = variant % 2 ? random_tensor({c.O, c.C, c.KH, c.KW}, dtype, ++seed)
                             : random_tensor({c.C, c.O, c.KH, c.KW}, dtype, ++seed).transpose(0, 1);  // permuted
      Tensor bias = variant % 2 ? random_tensor({c.O}, dtype, ++seed) : Tensor();
      Shape out_shape;
      {
        ScopedCpuKernels ref(CpuKernels::Reference);
        out_shape = conv2d(x, w, bias, p.stride, p.padding, p.dilation).shape();
      }
      Tensor g = random_tensor({out_shape[0], out_shape[2], out_shape[3], out_shape[1]}, dtype, ++seed)
                     .permute({0, 3, 1, 2});  // a non-contiguous upstream gradient
      const Tensor ax = abs(x), aw = abs(w), ag = abs(g);

      // forward: sums of C*KH*KW products (+ bias)
      Tensor expected = empty(out_shape, {.dtype = dtype}), abs_out = empty(out_shape, {.dtype = dtype});
      conv2d_kernel.cpu_reference()(x, w, bias, expected, p);
      conv2d_kernel.cpu_reference()(ax, aw, bias.defined() ? abs(bias) : bias, abs_out, p);
      check_configs(expected, sum_bound(abs_out, c.C * c.KH * c.KW + 1, dtype), what + ": forward",
                    [&](const Tensor& out) { conv2d_kernel.cpu_fast()(x, w, bias, out, p); });

      // backward input: sums of O*KH*KW products
      Tensor gx = empty(x.shape(), {.dtype = dtype}), abs_gx = empty(x.shape(), {.dtype = dtype});
      conv2d_backward_input_kernel.cpu_reference()(g, w, gx, p);
      conv2d_backward_input_kernel.cpu_reference()(ag, aw, abs_gx, p);
      check_configs(gx, sum_bound(abs_gx, c.O * c.KH * c.KW, dtype), what + ": backward input",
                    [&](const Tensor& out) { conv2d_backward_input_kernel.cpu_fast()(g, w, out, p); });

      // backward weight: sums of N*H_out*W_out products
      Tensor gw = empty(w.shape(), {.dtype = dtype}), abs_gw = empty(w.shape(), {.dtype = dtype});
      conv2d_backward_weight_kernel.cpu_reference()(g, x, gw, p);
      conv2d_backward_weight_kernel.cpu_reference()(ag, ax, abs_gw, p);
      check_configs(gw, sum_bound(abs_gw, out_shape[0] * out_shape[2] * out_shape[3], dtype),
                    what + ": backward weight",
                    [&](const Tensor& out) { conv2d_backward_weight_kernel.cpu_fast()(g, x, out, p); });
    }
  }
}
