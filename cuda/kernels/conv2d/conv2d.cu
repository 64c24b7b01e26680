// conv2d.cu — the convolution ladder's versions (conv2d.h; one file each, cuda/kernels/conv2d/vN_*.cuh),
// the rule that picks one per pass and shape, and their dispatch: checks, contiguous float32
// operands, 32-bit sizes. docs/KERNELS.md explains each step.
#include "cuda/kernels/conv2d/conv2d.h"

#include <cstdlib>

#include "cuda/kernels/conv2d/common.cuh"
#include "cuda/kernels/conv2d/v1_direct.cuh"
#include "cuda/kernels/conv2d/v2_direct_tiled.cuh"
#include "cuda/kernels/conv2d/v3_implicit_gemm.cuh"
#include "cuda/kernels/conv2d/v4_implicit_gemm_tuned.cuh"

namespace cxr::cuda {

const char* conv_pass_name(ConvPass pass) {
  switch (pass) {
    case ConvPass::Forward: return "forward";
    case ConvPass::BackwardData: return "backward data";
    case ConvPass::BackwardWeight: return "backward weight";
  }
  return "?";
}

Conv2dShape conv2d_shape(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t KH, int64_t KW,
                         const Conv2dParams& p) {
  Conv2dShape s;
  s.N = N, s.C_in = C_in, s.H = H, s.W = W, s.C_out = C_out, s.KH = KH, s.KW = KW;
  s.sh = p.stride.h, s.sw = p.stride.w, s.ph = p.padding.h, s.pw = p.padding.w, s.dh = p.dilation.h,
  s.dw = p.dilation.w;
  CXR_CHECK(N > 0 && C_in > 0 && H > 0 && W > 0 && C_out > 0 && KH > 0 && KW > 0 && s.sh > 0 && s.sw > 0 &&
                s.dh > 0 && s.dw > 0 && s.ph >= 0 && s.pw >= 0,
            "conv2d: sizes must be positive (padding non-negative), got ", conv2d_shape_str(s));
  s.HO = (H + 2 * s.ph - s.dh * (KH - 1) - 1) / s.sh + 1;
  s.WO = (W + 2 * s.pw - s.dw * (KW - 1) - 1) / s.sw + 1;
  CXR_CHECK(H + 2 * s.ph >= s.dh * (KH - 1) + 1 && W + 2 * s.pw >= s.dw * (KW - 1) + 1,
            "conv2d: the window is larger than the padded input: ", conv2d_shape_str(s));
  return s;
}

Conv2dParams conv2d_params(const Conv2dShape& s) { return {{s.sh, s.sw}, {s.ph, s.pw}, {s.dh, s.dw}}; }

std::string conv2d_shape_str(const Conv2dShape& s) {
  auto pair = [](int64_t a, int64_t b) { return a == b ? std::to_string(a) : std::to_string(a) + "x" + std::to_string(b); };
  return std::to_string(s.N) + "x" + std::to_string(s.C_in) + "x" + std::to_string(s.H) + "x" + std::to_string(s.W) +
         " -> " + std::to_string(s.C_out) + ", " + std::to_string(s.KH) + "x" + std::to_string(s.KW) + ", stride " +
         pair(s.sh, s.sw) + ", pad " + pair(s.ph, s.pw) + ", dil " + pair(s.dh, s.dw);
}

const KernelLadder& conv2d_ladder() {
  static const KernelLadder ladder{
      "conv2d",
      {
          {1, "v1_direct", "one thread per output element (backward weight: one block per weight)"},
          {2, "v2_direct_tiled", "shared-memory input tiles, 4 rows x 8 channels per thread: the early layers"},
          {3, "v3_implicit_gemm", "the backend's implicit GEMM: 128x128x8 tiles, 8x8 per thread, split-K weight"},
          {4, "v4_implicit_gemm_tuned", "64x128x16 tiles, split-K on every pass, k tables: the late layers"},
      },
      /*best=*/4};  // the backend runs conv2d_version: the rule per pass and shape, v2 or v4
  return ladder;
}

namespace {

using conv2d_common::Dims;

bool fits_int32(const Conv2dShape& s) {
  const int64_t limit = INT32_MAX;
  for (int64_t n : {s.N * s.C_in * s.H * s.W, s.N * s.C_out * s.HO * s.WO, s.C_out * s.C_in * s.KH * s.KW,
                    s.H + 2 * s.ph + s.dh * s.KH, s.W + 2 * s.pw + s.dw * s.KW, s.HO * s.sh + s.KH * s.dh,
                    s.WO * s.sw + s.KW * s.dw})
    if (n >= limit) return false;
  return true;
}

Dims dims_of(const Conv2dShape& s) {
  return {int(s.N),  int(s.C_in), int(s.H),  int(s.W),  int(s.C_out), int(s.KH), int(s.KW), int(s.sh),
          int(s.sw), int(s.ph),   int(s.pw), int(s.dh), int(s.dw),    int(s.HO), int(s.WO)};
}

void check_tensor(const char* pass, const char* what, const Tensor& t) {
  CXR_CHECK(t.device() == Device::CUDA && t.dtype() == DType::Float32 && t.dim() == 4, "conv2d ", pass, ": ", what,
            " must be a 4-d float32 CUDA tensor, got ", dtype_name(t.dtype()), " ", device_name(t.device()), " ",
            shape_str(t.shape()));
}

// The shape of a pass from its tensors: `input` (N, C_in, H, W), `weight` (C_out, C_in, KH, KW),
// `output` (N, C_out, HO, WO), checked against each other and the parameters.
Conv2dShape pass_shape(const char* pass, const Tensor& input, const Tensor& weight, const Tensor& output,
                       const Conv2dParams& p) {
  const Conv2dShape s = conv2d_shape(input.size(0), input.size(1), input.size(2), input.size(3), weight.size(0),
                                     weight.size(2), weight.size(3), p);
  CXR_CHECK(weight.size(1) == s.C_in && output.size(0) == s.N && output.size(1) == s.C_out && output.size(2) == s.HO &&
                output.size(3) == s.WO,
            "conv2d ", pass, ": input ", shape_str(input.shape()), ", weight ", shape_str(weight.shape()), " and output ",
            shape_str(output.shape()), " do not fit ", conv2d_shape_str(s), " (output ", s.N, "x", s.C_out, "x", s.HO,
            "x", s.WO, ")");
  return s;
}

const float* bias_data(const char* pass, const Tensor& bias, int64_t channels, Tensor& keep) {
  if (!bias.defined()) return nullptr;
  CXR_CHECK(bias.device() == Device::CUDA && bias.dtype() == DType::Float32 && bias.dim() == 1 &&
                bias.size(0) == channels,
            "conv2d ", pass, ": bias must be a float32 CUDA tensor of ", channels, " elements, got ",
            shape_str(bias.shape()));
  keep = contiguous_values(bias);
  return keep.data<float>();
}

void check_version(const char* pass, int version, const Conv2dShape& s) {
  CXR_CHECK(version >= 1 && version <= 4, "conv2d ", pass, ": no kernel version ", version, "; the versions are ",
            version_list(conv2d_ladder()));
  CXR_CHECK(version == 3 || fits_int32(s), "conv2d ", pass, ": version ", version,
            " indexes in 32 bits; a tensor of ", conv2d_shape_str(s), " has 2^31 elements or more (v3 takes it)");
}

}  // namespace

int conv2d_rule_version(ConvPass pass, const Conv2dShape& s) {
  if (!fits_int32(s)) return 3;
  const Dims d = dims_of(s);
  const bool early = pass == ConvPass::Forward        ? s.C_out <= 16
                     : pass == ConvPass::BackwardData ? s.C_in <= 16
                                                      : s.C_out <= 16 && s.C_in <= 16;
  if (early && conv2d_v2::plan(pass, d).fits) return 2;
  return 4;
}

int conv2d_version(ConvPass pass, const Conv2dShape& s) {
  const char* env = std::getenv(version_variable(conv2d_ladder()).c_str());
  if (env != nullptr && *env != '\0') return selected_version(conv2d_ladder());
  return conv2d_rule_version(pass, s);
}

void conv2d_forward_version(int version, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                            const Conv2dParams& p) {
  const char* pass = "forward";
  check_tensor(pass, "x", x), check_tensor(pass, "w", w), check_tensor(pass, "out", out);
  const Conv2dShape s = pass_shape(pass, x, w, out, p);
  check_version(pass, version, s);
  CXR_CHECK(out.is_contiguous(), "conv2d forward: the output must be contiguous, got strides ",
            shape_str(out.strides()));
  Tensor bias_keep;
  const float* b = bias_data(pass, bias, s.C_out, bias_keep);
  if (version == 3) return conv2d_v3::forward(x, w, bias, out, p);
  const Tensor xc = contiguous_values(x), wc = contiguous_values(w);
  const Dims d = dims_of(s);
  switch (version) {
    case 1: return conv2d_v1::forward(d, xc.data<float>(), wc.data<float>(), b, out.data<float>());
    case 2: return conv2d_v2::forward(d, xc.data<float>(), wc.data<float>(), b, out.data<float>());
    default:
      return conv2d_v4::run("conv2d_v4_implicit_gemm_tuned forward",
                            conv2d_v4::Forward{d, wc.data<float>(), xc.data<float>()}, out.data<float>(), b,
                            d.HO * d.WO);
  }
}

void conv2d_backward_data_version(int version, const Tensor& grad_out, const Tensor& w, const Tensor& bias,
                                  const Tensor& grad_x, const Conv2dParams& p) {
  const char* pass = "backward data";
  check_tensor(pass, "grad_out", grad_out), check_tensor(pass, "w", w), check_tensor(pass, "grad_x", grad_x);
  const Conv2dShape s = pass_shape(pass, grad_x, w, grad_out, p);
  check_version(pass, version, s);
  CXR_CHECK(grad_x.is_contiguous(), "conv2d backward data: grad_x must be contiguous, got strides ",
            shape_str(grad_x.strides()));
  Tensor bias_keep;
  const float* b = bias_data(pass, bias, s.C_in, bias_keep);
  if (version == 3) return conv2d_v3::backward_data(grad_out, w, bias, grad_x, p);
  const Tensor gc = contiguous_values(grad_out), wc = contiguous_values(w);
  const Dims d = dims_of(s);
  switch (version) {
    case 1: return conv2d_v1::backward_data(d, gc.data<float>(), wc.data<float>(), b, grad_x.data<float>());
    case 2: return conv2d_v2::backward_data(d, gc.data<float>(), wc.data<float>(), b, grad_x.data<float>());
    default:
      return conv2d_v4::run("conv2d_v4_implicit_gemm_tuned backward data",
                            conv2d_v4::BackwardData{d, wc.data<float>(), gc.data<float>()}, grad_x.data<float>(), b,
                            d.H * d.W);
  }
}

void conv2d_backward_weight_version(int version, const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                    const Conv2dParams& p) {
  const char* pass = "backward weight";
  check_tensor(pass, "grad_out", grad_out), check_tensor(pass, "x", x), check_tensor(pass, "grad_w", grad_w);
  const Conv2dShape s = pass_shape(pass, x, grad_w, grad_out, p);
  check_version(pass, version, s);
  CXR_CHECK(grad_w.is_contiguous(), "conv2d backward weight: grad_w must be contiguous, got strides ",
            shape_str(grad_w.strides()));
  if (version == 3) return conv2d_v3::backward_weight(grad_out, x, grad_w, p);
  const Tensor gc = contiguous_values(grad_out), xc = contiguous_values(x);
  const Dims d = dims_of(s);
  switch (version) {
    case 1: return conv2d_v1::backward_weight(d, gc.data<float>(), xc.data<float>(), grad_w.data<float>());
    case 2: return conv2d_v2::backward_weight(d, gc.data<float>(), xc.data<float>(), grad_w.data<float>());
    default:
      return conv2d_v4::run("conv2d_v4_implicit_gemm_tuned backward weight",
                            conv2d_v4::BackwardWeight{d, gc.data<float>(), xc.data<float>()}, grad_w.data<float>(),
                            nullptr, 0);
  }
}

}  // namespace cxr::cuda
