// conv.cpp — conv2d, conv_transpose2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d on NCHW tensors.
// For each: the argument checks, the forward with its formula, the named backward, and (at the
// bottom) the readable CPU reference kernels, one direct loop nest each.
//   x: (N, C, H, W); weight: (C_out, C_in, kH, kW); out: (N, C_out, H_out, W_out) with
//   H_out = floor((H + 2 pad - dil (k - 1) - 1) / stride) + 1 (pools: dil = 1; PyTorch's ceil_mode=false).
//   conv_transpose2d: weight (C_in, C_out, kH, kW), H_out = (H - 1) stride - 2 pad + k + output_padding.
// Derivations: every op here is a sum of products over a window, so each backward is the same sum
// read the other way round; the index algebra is written next to each backward.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"

namespace cxr {

static std::string size2_str(Size2 s) { return detail::concat("(", s.h, ", ", s.w, ")"); }

// ---- shared checks ----
static void check_nchw(const Shape& x, const char* op, const char* what = "input") {
  CXR_CHECK(x.size() == 4, op, ": expected a 4-D ", what, " (N, C, H, W), got ", shape_str(x));
  CXR_CHECK(x[2] > 0 && x[3] > 0, op, ": expected an ", what, " with non-empty H and W, got ", shape_str(x));
}

static void check_floating_input(const Tensor& x, const char* op) {
  CXR_CHECK(x.defined(), op, ": input is undefined");
  CXR_CHECK(is_floating(x.dtype()), op, ": expected a floating input (float32 or float64), got ",
            dtype_name(x.dtype()), " ", shape_str(x.shape()));
}

static void check_same(const Tensor& x, const Tensor& y, const char* op, const char* x_name, const char* y_name) {
  CXR_CHECK(x.dtype() == y.dtype(), op, ": dtype mismatch: ", x_name, " ", dtype_name(x.dtype()), " ",
            shape_str(x.shape()), " vs ", y_name, " ", dtype_name(y.dtype()), " ", shape_str(y.shape()));
  CXR_CHECK(x.device() == y.device(), op, ": ", x_name, " and ", y_name, " on different devices (",
            device_name(x.device()), " vs ", device_name(y.device()), ")");
}

// One output extent of a sliding window: floor((in + 2 pad - span) / stride) + 1, where
// span = dil (k - 1) + 1 is the window's reach; the caller has checked in + 2 pad >= span.
static int64_t window_count(int64_t in, int64_t span, int64_t stride, int64_t pad) {
  return (in + 2 * pad - span) / stride + 1;
}

// ======================= conv2d =======================
// Validates x and weight shapes and the parameters; returns the output shape (N, C_out, H_out, W_out).
static Shape conv2d_output_shape(const char* op, const Shape& x, const Shape& w, const Conv2dParams& p) {
  check_nchw(x, op);
  CXR_CHECK(w.size() == 4, op, ": expected a 4-D weight (C_out, C_in, kH, kW), got ", shape_str(w));
  CXR_CHECK(w[2] > 0 && w[3] > 0, op, ": weight ", shape_str(w), " has an empty kernel");
  CXR_CHECK(x[1] == w[1], op, ": input ", shape_str(x), " has ", x[1], " channels but weight ", shape_str(w),
            " expects ", w[1], " (C_in is the weight's dim 1)");
  CXR_CHECK(p.stride.h > 0 && p.stride.w > 0, op, ": stride must be positive, got ", size2_str(p.stride));
  CXR_CHECK(p.dilation.h > 0 && p.dilation.w > 0, op, ": dilation must be positive, got ", size2_str(p.dilation));
  CXR_CHECK(p.padding.h >= 0 && p.padding.w >= 0, op, ": padding must be non-negative, got ", size2_str(p.padding));
  const int64_t span_h = p.dilation.h * (w[2] - 1) + 1, span_w = p.dilation.w * (w[3] - 1) + 1;
  const int64_t padded_h = x[2] + 2 * p.padding.h, padded_w = x[3] + 2 * p.padding.w;
  CXR_CHECK(span_h <= padded_h && span_w <= padded_w, op, ": kernel ", shape_str({w[2], w[3]}), " with dilation ",
            size2_str(p.dilation), " spans ", shape_str({span_h, span_w}), ", larger than the padded input ",
            shape_str({padded_h, padded_w}), " (input ", shape_str(x), ", weight ", shape_str(w), ", padding ",
            size2_str(p.padding), ")");
  return {x[0], w[0], window_count(x[2], span_h, p.stride.h, p.padding.h),
          window_count(x[3], span_w, p.stride.w, p.padding.w)};
}

// conv2d_backward_input: out[n,o,oh,ow] = sum_{c,kh,kw} x[n,c,ih,iw] w[o,c,kh,kw] with
// ih = oh*sh - ph + kh*dh (iw alike), so d out[n,o,oh,ow] / d x[n,c,ih,iw] = w[o,c,kh,kw] for each
// (kh, oh) pairing that lands on ih; hence
//   gx[n,c,ih,iw] = sum_{o,kh,kw} g[n,o,oh,ow] w[o,c,kh,kw],  oh = (ih + ph - kh*dh) / sh
// over the kh whose division is exact and gives 0 <= oh < H_out (likewise for kw, ow). Input pixels
// no window reaches (the floor in H_out) get 0.
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape, Size2 stride,
                             Size2 padding, Size2 dilation) {
  const OpScope op_scope("conv2d_backward_input");
  const char* op = "conv2d_backward_input";
  Conv2dParams p{stride, padding, dilation};
  check_floating_input(grad_out, op);
  check_same(grad_out, weight, op, "grad_out", "weight");
  Shape expected = conv2d_output_shape(op, input_shape, weight.shape(), p);
  CXR_CHECK(grad_out.shape() == expected, op, ": grad_out ", shape_str(grad_out.shape()),
            " does not match the output shape ", shape_str(expected), " of input ", shape_str(input_shape),
            " and weight ", shape_str(weight.shape()));
  Tensor gx = empty(input_shape, grad_out.options());
  conv2d_backward_input_kernel(grad_out.device())(grad_out, weight, gx, p);
  return gx;
}

// conv2d_backward_weight: d out[n,o,oh,ow] / d w[o,c,kh,kw] = x[n,c,ih,iw] (zero in the padding), so
//   gw[o,c,kh,kw] = sum_{n,oh,ow} g[n,o,oh,ow] x[n,c,oh*sh - ph + kh*dh, ow*sw - pw + kw*dw].
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape, Size2 stride,
                              Size2 padding, Size2 dilation) {
  const OpScope op_scope("conv2d_backward_weight");
  const char* op = "conv2d_backward_weight";
  Conv2dParams p{stride, padding, dilation};
  check_floating_input(grad_out, op);
  check_same(grad_out, x, op, "grad_out", "input");
  Shape expected = conv2d_output_shape(op, x.shape(), weight_shape, p);
  CXR_CHECK(grad_out.shape() == expected, op, ": grad_out ", shape_str(grad_out.shape()),
            " does not match the output shape ", shape_str(expected), " of input ", shape_str(x.shape()),
            " and weight ", shape_str(weight_shape));
  Tensor gw = empty(weight_shape, grad_out.options());
  conv2d_backward_weight_kernel(grad_out.device())(grad_out, x, gw, p);
  return gw;
}

// conv2d_backward: gx and gw as above; bias is added to every (n, oh, ow) of its channel, so
//   gb[o] = sum_{n,oh,ow} g[n,o,oh,ow].
// Only the gradients of inputs that require grad are computed.
struct Conv2dBackward final : Node {
  Conv2dParams p;
  explicit Conv2dBackward(Conv2dParams params) : p(params) {}
  const char* name() const override { return "conv2d_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &x = saved(0), &w = saved(1);
    Tensor gx, gw, gb;
    if (next_edges[0].node) gx = conv2d_backward_input(g, w, x.shape(), p.stride, p.padding, p.dilation);
    if (next_edges[1].node) gw = conv2d_backward_weight(g, x, w.shape(), p.stride, p.padding, p.dilation);
    if (next_edges[2].node) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }
};

// conv2d: out[n,o,oh,ow] = bias[o] + sum_{c,kh,kw} x[n, c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] w[o,c,kh,kw]
// (cross-correlation, as PyTorch; x is zero outside [0,H) x [0,W): the padding).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
              Size2 dilation) {
  const OpScope op_scope("conv2d");
  const char* op = "conv2d";
  Conv2dParams p{stride, padding, dilation};
  check_floating_input(x, op);
  CXR_CHECK(weight.defined(), "conv2d: weight is undefined");
  check_same(x, weight, op, "input", "weight");
  Shape out_shape = conv2d_output_shape(op, x.shape(), weight.shape(), p);
  if (bias.defined()) {
    check_same(x, bias, op, "input", "bias");
    CXR_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "conv2d: bias of shape ", shape_str(bias.shape()),
              " does not match weight ", shape_str(weight.shape()), " (expected [", weight.size(0), "])");
  }
  Tensor out = empty(out_shape, x.options());
  conv2d_kernel(x.device())(x, weight, bias, out, p);
  record_op<Conv2dBackward>(out, {x, weight, bias}, {x, weight}, p);
  return out;
}

// ======================= conv_transpose2d =======================
// conv_transpose2d is conv2d read backwards. Take conv2d with the same weight w (C_in, C_out, kH, kW),
// i.e. a map from C_out to C_in channels,
//   conv(y)[n,c,ih,iw] = sum_{o,kh,kw} y[n,o,ih*sh - ph + kh, iw*sw - pw + kw] w[c,o,kh,kw].
// Its adjoint (<conv(y), x> = <y, conv^T(x)>) spreads each input pixel over a kH x kW window of
// the output, stride s apart:
//   out[n,o,oh,ow] = bias[o] + sum_{c,kh,kw} x[n,c,ih,iw] w[c,o,kh,kw]   over oh = ih*sh - ph + kh, ow alike,
// i.e. ih = (oh + ph - kh) / sh where that division is exact and 0 <= ih < H.
// This is exactly conv2d_backward_input with grad_out := x and input_shape := out's shape, so the
// forward reuses that kernel, and the two gradients are the other two conv2d relations:
//   gx[n,c,ih,iw] = sum_{o,kh,kw} g[n,o,ih*sh - ph + kh, iw*sw - pw + kw] w[c,o,kh,kw] = conv2d(g, w, s, p)
//   gw[c,o,kh,kw] = sum_{n,ih,iw} x[n,c,ih,iw] g[n,o,ih*sh - ph + kh, iw*sw - pw + kw]
//                 = conv2d_backward_weight(grad_out := x, input := g)
//   gb[o]         = sum_{n,oh,ow} g[n,o,oh,ow].
// H_out = (H - 1) sh - 2 ph + kH + oph is the largest of the sizes conv2d maps to H (for
// 0 <= oph < sh, floor((H_out + 2 ph - kH) / sh) + 1 = H); output rows no window reaches (the
// padding's far side when oph > 0) get the bias only.

// Validates the shapes and parameters; returns the output shape (N, C_out, H_out, W_out).
static Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, Size2 stride, Size2 padding,
                                           Size2 output_padding) {
  const char* op = "conv_transpose2d";
  check_nchw(x, op);
  CXR_CHECK(w.size() == 4, op, ": expected a 4-D weight (C_in, C_out, kH, kW), got ", shape_str(w));
  CXR_CHECK(w[1] > 0 && w[2] > 0 && w[3] > 0, op, ": weight ", shape_str(w),
            " has no output channels or an empty kernel");
  CXR_CHECK(x[1] == w[0], op, ": input ", shape_str(x), " has ", x[1], " channels but weight ", shape_str(w),
            " expects ", w[0], " (C_in is the weight's dim 0 for a transposed convolution)");
  CXR_CHECK(stride.h > 0 && stride.w > 0, op, ": stride must be positive, got ", size2_str(stride));
  CXR_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", size2_str(padding));
  const bool output_padding_ok =
      output_padding.h >= 0 && output_padding.w >= 0 && output_padding.h < stride.h && output_padding.w < stride.w;
  CXR_CHECK(output_padding_ok, op, ": output_padding ", size2_str(output_padding),
            " must be non-negative and smaller than the stride ", size2_str(stride));
  const int64_t out_h = (x[2] - 1) * stride.h - 2 * padding.h + w[2] + output_padding.h;
  const int64_t out_w = (x[3] - 1) * stride.w - 2 * padding.w + w[3] + output_padding.w;
  CXR_CHECK(out_h > 0 && out_w > 0, op, ": input ", shape_str(x), " with weight ", shape_str(w), ", stride ",
            size2_str(stride), ", padding ", size2_str(padding), " and output_padding ", size2_str(output_padding),
            " gives an empty output ", shape_str({out_h, out_w}));
  return {x[0], w[1], out_h, out_w};
}

// Only the gradients of inputs that require grad are computed (see the math above).
struct ConvTranspose2dBackward final : Node {
  Conv2dParams p;
  explicit ConvTranspose2dBackward(Conv2dParams params) : p(params) {}
  const char* name() const override { return "conv_transpose2d_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &x = saved(0), &w = saved(1);
    Tensor gx, gw, gb;
    if (next_edges[0].node) gx = conv2d(g, w, Tensor(), p.stride, p.padding);
    if (next_edges[1].node) gw = conv2d_backward_weight(x, g, w.shape(), p.stride, p.padding, p.dilation);
    if (next_edges[2].node) gb = sum(g, {0, 2, 3});
    return {gx, gw, gb};
  }
};

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Size2 stride, Size2 padding,
                        Size2 output_padding) {
  const OpScope op_scope("conv_transpose2d");
  const char* op = "conv_transpose2d";
  check_floating_input(x, op);
  CXR_CHECK(weight.defined(), "conv_transpose2d: weight is undefined");
  check_same(x, weight, op, "input", "weight");
  Shape out_shape = conv_transpose2d_output_shape(x.shape(), weight.shape(), stride, padding, output_padding);
  if (bias.defined()) {
    check_same(x, bias, op, "input", "bias");
    CXR_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(1), "conv_transpose2d: bias of shape ",
              shape_str(bias.shape()), " does not match weight ", shape_str(weight.shape()), " (expected [",
              weight.size(1), "], C_out being the weight's dim 1)");
  }
  Conv2dParams p{stride, padding, 1};
  Tensor out = empty(out_shape, x.options());
  conv_transpose2d_kernel(x.device())(x, weight, bias, out, p);
  record_op<ConvTranspose2dBackward>(out, {x, weight, bias}, {x, weight}, p);
  return out;
}

// ======================= pools =======================
// Validates a pool's input and window; resolves stride 0 to the kernel size (PyTorch's stride=None;
// each of h and w on its own). Returns the parameters and sets *out_shape.
static Pool2dParams pool2d_params(const char* op, const Shape& x, Size2 kernel, Size2 stride, Size2 padding,
                                  Shape* out_shape) {
  check_nchw(x, op);
  CXR_CHECK(kernel.h > 0 && kernel.w > 0, op, ": kernel size must be positive, got ", size2_str(kernel));
  CXR_CHECK(stride.h >= 0 && stride.w >= 0, op, ": stride must be positive (or 0 for the kernel size), got ",
            size2_str(stride));
  Size2 s(stride.h == 0 ? kernel.h : stride.h, stride.w == 0 ? kernel.w : stride.w);
  CXR_CHECK(padding.h >= 0 && padding.w >= 0, op, ": padding must be non-negative, got ", size2_str(padding));
  // As PyTorch: a wider padding would allow windows that hold padding only.
  CXR_CHECK(padding.h <= kernel.h / 2 && padding.w <= kernel.w / 2, op, ": padding ", size2_str(padding),
            " must be at most half the kernel size ", size2_str(kernel));
  const int64_t padded_h = x[2] + 2 * padding.h, padded_w = x[3] + 2 * padding.w;
  CXR_CHECK(kernel.h <= padded_h && kernel.w <= padded_w, op, ": kernel ", size2_str(kernel),
            " is larger than the padded input ", shape_str({padded_h, padded_w}), " (input ", shape_str(x),
            ", padding ", size2_str(padding), ")");
  *out_shape = {x[0], x[1], window_count(x[2], kernel.h, s.h, padding.h), window_count(x[3], kernel.w, s.w, padding.w)};
  return Pool2dParams{kernel, s, padding};
}

// Checks that a pool's grad_out has the output shape the input shape gives.
static void check_grad_out(const char* op, const Tensor& grad_out, const Shape& expected, const Shape& input_shape) {
  check_floating_input(grad_out, op);
  CXR_CHECK(grad_out.shape() == expected, op, ": grad_out ", shape_str(grad_out.shape()),
            " does not match the output shape ", shape_str(expected), " of input ", shape_str(input_shape));
}

// ---- max_pool2d ----
// max_pool2d_backward: out = x[argmax of the window], so d out / d x is 1 at the recorded index and
// 0 elsewhere: gx[n,c][indices[n,c,oh,ow]] += g[n,c,oh,ow] (summed where windows overlap). At a tie
// the index recorded in the forward (the first maximum) takes the whole gradient, as PyTorch; that
// is a valid subgradient.
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& input_shape) {
  const OpScope op_scope("max_pool2d_backward");
  const char* op = "max_pool2d_backward";
  check_floating_input(grad_out, op);
  check_nchw(input_shape, op);
  CXR_CHECK(indices.defined() && indices.dtype() == DType::Int64 && indices.shape() == grad_out.shape(), op,
            ": indices must be int64 of grad_out's shape ", shape_str(grad_out.shape()), ", got ",
            indices.defined() ? dtype_name(indices.dtype()) : "undefined", " ",
            indices.defined() ? shape_str(indices.shape()) : "");
  CXR_CHECK(grad_out.dim() == 4 && grad_out.size(0) == input_shape[0] && grad_out.size(1) == input_shape[1], op,
            ": grad_out ", shape_str(grad_out.shape()), " does not match input ", shape_str(input_shape),
            " in (N, C)");
  Tensor gx = empty(input_shape, grad_out.options());
  max_pool2d_backward_kernel(grad_out.device())(grad_out, indices, gx);
  return gx;
}

struct MaxPool2dBackward final : Node {
  Shape input_shape;
  explicit MaxPool2dBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "max_pool2d_backward"; }
  TensorList backward(const Tensor& g) override { return {max_pool2d_backward(g, saved(0), input_shape)}; }
};

// max_pool2d: out[n,c,oh,ow] = max over ih in [oh*sh - ph, +kH), iw in [ow*sw - pw, +kW) of x[n,c,ih,iw],
// the padding being -inf (it never wins); indices record ih * W + iw of the maximum.
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const OpScope op_scope("max_pool2d_with_indices");
  const char* op = "max_pool2d";
  check_floating_input(x, op);
  Shape out_shape;
  Pool2dParams p = pool2d_params(op, x.shape(), kernel, stride, padding, &out_shape);
  Tensor out = empty(out_shape, x.options());
  Tensor indices = empty(out_shape, {DType::Int64, x.device()});
  max_pool2d_kernel(x.device())(x, out, indices, p);
  record_op<MaxPool2dBackward>(out, {x}, {indices}, x.shape());
  return {out, indices};
}

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const OpScope op_scope("max_pool2d");
  return max_pool2d_with_indices(x, kernel, stride, padding).first;
}

// ---- avg_pool2d ----
// avg_pool2d_backward: out = sum_window x / divisor, so each x in the window gets g / divisor:
//   gx[n,c,ih,iw] = sum over the windows (oh, ow) containing (ih, iw) of g[n,c,oh,ow] / divisor(oh, ow).
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, Size2 kernel, Size2 stride,
                           Size2 padding, bool count_include_pad) {
  const OpScope op_scope("avg_pool2d_backward");
  const char* op = "avg_pool2d_backward";
  Shape expected;
  Pool2dParams p = pool2d_params(op, input_shape, kernel, stride, padding, &expected);
  p.count_include_pad = count_include_pad;
  check_grad_out(op, grad_out, expected, input_shape);
  Tensor gx = empty(input_shape, grad_out.options());
  avg_pool2d_backward_kernel(grad_out.device())(grad_out, gx, p);
  return gx;
}

struct AvgPool2dBackward final : Node {
  Shape input_shape;
  Pool2dParams p;
  AvgPool2dBackward(Shape s, Pool2dParams params) : input_shape(std::move(s)), p(params) {}
  const char* name() const override { return "avg_pool2d_backward"; }
  TensorList backward(const Tensor& g) override {
    return {avg_pool2d_backward(g, input_shape, p.kernel, p.stride, p.padding, p.count_include_pad)};
  }
};

// avg_pool2d: out[n,c,oh,ow] = sum of x over the window clipped to the input / divisor, where the
// divisor counts the window's cells inside the padded input (count_include_pad, PyTorch's default)
// or only those inside the input.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad) {
  const OpScope op_scope("avg_pool2d");
  const char* op = "avg_pool2d";
  check_floating_input(x, op);
  Shape out_shape;
  Pool2dParams p = pool2d_params(op, x.shape(), kernel, stride, padding, &out_shape);
  p.count_include_pad = count_include_pad;
  Tensor out = empty(out_shape, x.options());
  avg_pool2d_kernel(x.device())(x, out, p);
  record_op<AvgPool2dBackward>(out, {x}, {}, x.shape(), p);
  return out;
}

// ---- adaptive_avg_pool2d ----
// Output cell i of an extent `in` split into `out` cells averages [floor(i*in/out), ceil((i+1)*in/out)):
// the windows cover the input, may overlap, and (for out > in) repeat.
static int64_t adaptive_start(int64_t i, int64_t in, int64_t out) { return i * in / out; }
static int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

static void check_adaptive(const char* op, const Shape& x, Size2 output_size) {
  check_nchw(x, op);
  CXR_CHECK(output_size.h > 0 && output_size.w > 0, op, ": output size must be positive, got ",
            size2_str(output_size), " for input ", shape_str(x));
}

// adaptive_avg_pool2d_backward: as avg_pool2d with divisor = the window's size:
//   gx[n,c,ih,iw] = sum over windows (oh, ow) containing (ih, iw) of g[n,c,oh,ow] / |window(oh, ow)|.
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape) {
  const OpScope op_scope("adaptive_avg_pool2d_backward");
  const char* op = "adaptive_avg_pool2d_backward";
  check_floating_input(grad_out, op);
  CXR_CHECK(grad_out.dim() == 4, op, ": expected a 4-D grad_out, got ", shape_str(grad_out.shape()));
  check_adaptive(op, input_shape, Size2(grad_out.size(2), grad_out.size(3)));
  check_grad_out(op, grad_out, {input_shape[0], input_shape[1], grad_out.size(2), grad_out.size(3)}, input_shape);
  Tensor gx = empty(input_shape, grad_out.options());
  adaptive_avg_pool2d_backward_kernel(grad_out.device())(grad_out, gx);
  return gx;
}

struct AdaptiveAvgPool2dBackward final : Node {
  Shape input_shape;
  explicit AdaptiveAvgPool2dBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "adaptive_avg_pool2d_backward"; }
  TensorList backward(const Tensor& g) override { return {adaptive_avg_pool2d_backward(g, input_shape)}; }
};

// adaptive_avg_pool2d: out[n,c,i,j] = mean of x[n,c] over rows [start(i), end(i)) x cols [start(j), end(j)).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size) {
  const OpScope op_scope("adaptive_avg_pool2d");
  const char* op = "adaptive_avg_pool2d";
  check_floating_input(x, op);
  check_adaptive(op, x.shape(), output_size);
  Tensor out = empty({x.size(0), x.size(1), output_size.h, output_size.w}, x.options());
  adaptive_avg_pool2d_kernel(x.device())(x, out);
  record_op<AdaptiveAvgPool2dBackward>(out, {x}, {}, x.shape());
  return out;
}

// ======================= reference CPU kernels =======================
// Direct loop nests over the formulas above, reading inputs through their strides. Sums are
// accumulated in double (float32 and float64 alike) and rounded once; the pool backwards scatter
// into a zeroed gradient in the tensor's type (at most ceil(k/s)^2 terms meet in one element).

// Element access through strides: t(i, j, k, l) = data[i*s0 + j*s1 + k*s2 + l*s3].
template <typename T>
struct Strided4 {
  T* p;
  int64_t s0, s1, s2, s3;
  explicit Strided4(const Tensor& t)
      : p(t.data<std::remove_const_t<T>>()), s0(t.stride(0)), s1(t.stride(1)), s2(t.stride(2)), s3(t.stride(3)) {}
  T& operator()(int64_t i, int64_t j, int64_t k, int64_t l) const { return p[i * s0 + j * s1 + k * s2 + l * s3]; }
};

template <typename T>
static void zero_fill(const Tensor& t) {
  std::fill_n(t.data<T>(), t.numel(), T(0));  // t is a fresh contiguous tensor
}

// out[n,o,oh,ow] = bias[o] + sum_{c,kh,kw} x[n,c,ih,iw] w[o,c,kh,kw],  ih = oh*sh - ph + kh*dh, iw alike;
// taps that fall in the padding are skipped (they contribute zero).
static void conv2d_cpu(const Tensor& x_t, const Tensor& w_t, const Tensor& bias_t, const Tensor& out_t,
                       const Conv2dParams& p) {
  visit_floating(x_t.dtype(), "conv2d", [&]<typename T>() {
    Strided4<const T> x(x_t), w(w_t);
    Strided4<T> out(out_t);
    const T* bias = bias_t.defined() ? bias_t.data<T>() : nullptr;
    const int64_t bias_stride = bias_t.defined() ? bias_t.stride(0) : 0;
    const int64_t N = x_t.size(0), C = x_t.size(1), H = x_t.size(2), W = x_t.size(3);
    const int64_t O = w_t.size(0), KH = w_t.size(2), KW = w_t.size(3), HO = out_t.size(2), WO = out_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            double acc = bias ? double(bias[o * bias_stride]) : 0.0;
            for (int64_t c = 0; c < C; ++c)
              for (int64_t kh = 0; kh < KH; ++kh) {
                const int64_t ih = oh * p.stride.h - p.padding.h + kh * p.dilation.h;
                if (ih < 0 || ih >= H) continue;
                for (int64_t kw = 0; kw < KW; ++kw) {
                  const int64_t iw = ow * p.stride.w - p.padding.w + kw * p.dilation.w;
                  if (iw < 0 || iw >= W) continue;
                  acc += double(x(n, c, ih, iw)) * double(w(o, c, kh, kw));
                }
              }
            out(n, o, oh, ow) = T(acc);
          }
  });
}

// gx[n,c,ih,iw] = sum_{o,kh,kw} g[n,o,oh,ow] w[o,c,kh,kw] over oh = (ih + ph - kh*dh) / sh exact and
// in [0, H_out), ow alike (a gather: each gx element is written once).
static void conv2d_backward_input_cpu(const Tensor& g_t, const Tensor& w_t, const Tensor& gx_t, const Conv2dParams& p) {
  visit_floating(g_t.dtype(), "conv2d_backward_input", [&]<typename T>() {
    Strided4<const T> g(g_t), w(w_t);
    Strided4<T> gx(gx_t);
    const int64_t N = gx_t.size(0), C = gx_t.size(1), H = gx_t.size(2), W = gx_t.size(3);
    const int64_t O = w_t.size(0), KH = w_t.size(2), KW = w_t.size(3), HO = g_t.size(2), WO = g_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t iw = 0; iw < W; ++iw) {
            double acc = 0;
            for (int64_t o = 0; o < O; ++o)
              for (int64_t kh = 0; kh < KH; ++kh) {
                const int64_t th = ih + p.padding.h - kh * p.dilation.h;  // = oh * sh
                if (th < 0 || th % p.stride.h != 0 || th / p.stride.h >= HO) continue;
                const int64_t oh = th / p.stride.h;
                for (int64_t kw = 0; kw < KW; ++kw) {
                  const int64_t tw = iw + p.padding.w - kw * p.dilation.w;  // = ow * sw
                  if (tw < 0 || tw % p.stride.w != 0 || tw / p.stride.w >= WO) continue;
                  const int64_t ow = tw / p.stride.w;
                  acc += double(g(n, o, oh, ow)) * double(w(o, c, kh, kw));
                }
              }
            gx(n, c, ih, iw) = T(acc);
          }
  });
}

// gw[o,c,kh,kw] = sum_{n,oh,ow} g[n,o,oh,ow] x[n,c,oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (in-bounds taps).
static void conv2d_backward_weight_cpu(const Tensor& g_t, const Tensor& x_t, const Tensor& gw_t, const Conv2dParams& p) {
  visit_floating(g_t.dtype(), "conv2d_backward_weight", [&]<typename T>() {
    Strided4<const T> g(g_t), x(x_t);
    Strided4<T> gw(gw_t);
    const int64_t N = x_t.size(0), H = x_t.size(2), W = x_t.size(3);
    const int64_t O = gw_t.size(0), C = gw_t.size(1), KH = gw_t.size(2), KW = gw_t.size(3);
    const int64_t HO = g_t.size(2), WO = g_t.size(3);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t kh = 0; kh < KH; ++kh)
          for (int64_t kw = 0; kw < KW; ++kw) {
            double acc = 0;
            for (int64_t n = 0; n < N; ++n)
              for (int64_t oh = 0; oh < HO; ++oh) {
                const int64_t ih = oh * p.stride.h - p.padding.h + kh * p.dilation.h;
                if (ih < 0 || ih >= H) continue;
                for (int64_t ow = 0; ow < WO; ++ow) {
                  const int64_t iw = ow * p.stride.w - p.padding.w + kw * p.dilation.w;
                  if (iw < 0 || iw >= W) continue;
                  acc += double(g(n, o, oh, ow)) * double(x(n, c, ih, iw));
                }
              }
            gw(o, c, kh, kw) = T(acc);
          }
  });
}

// out[n,o,oh,ow] = bias[o] + sum_{c,kh,kw} x[n,c,ih,iw] w[c,o,kh,kw] over ih = (oh + ph - kh) / sh exact
// and in [0, H), iw alike (a gather, written independently of conv2d_backward_input_cpu so that the
// two check each other).
static void conv_transpose2d_cpu(const Tensor& x_t, const Tensor& w_t, const Tensor& bias_t, const Tensor& out_t,
                                 const Conv2dParams& p) {
  visit_floating(x_t.dtype(), "conv_transpose2d", [&]<typename T>() {
    Strided4<const T> x(x_t), w(w_t);
    Strided4<T> out(out_t);
    const T* bias = bias_t.defined() ? bias_t.data<T>() : nullptr;
    const int64_t bias_stride = bias_t.defined() ? bias_t.stride(0) : 0;
    const int64_t N = x_t.size(0), C = x_t.size(1), H = x_t.size(2), W = x_t.size(3);
    const int64_t O = w_t.size(1), KH = w_t.size(2), KW = w_t.size(3), HO = out_t.size(2), WO = out_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            double acc = bias ? double(bias[o * bias_stride]) : 0.0;
            for (int64_t c = 0; c < C; ++c)
              for (int64_t kh = 0; kh < KH; ++kh) {
                const int64_t th = oh + p.padding.h - kh;  // = ih * sh
                if (th < 0 || th % p.stride.h != 0 || th / p.stride.h >= H) continue;
                const int64_t ih = th / p.stride.h;
                for (int64_t kw = 0; kw < KW; ++kw) {
                  const int64_t tw = ow + p.padding.w - kw;  // = iw * sw
                  if (tw < 0 || tw % p.stride.w != 0 || tw / p.stride.w >= W) continue;
                  const int64_t iw = tw / p.stride.w;
                  acc += double(x(n, c, ih, iw)) * double(w(c, o, kh, kw));
                }
              }
            out(n, o, oh, ow) = T(acc);
          }
  });
}

// The fast path: conv2d_backward_input's fast kernel with grad_out := x computes the sum (see the
// math above conv_transpose2d), then the bias is added to each channel's plane of the fresh,
// contiguous out.
static void conv_transpose2d_fast(const Tensor& x, const Tensor& w, const Tensor& bias_t, const Tensor& out_t,
                                  const Conv2dParams& p) {
  cpu::conv2d_backward_input_fast(x, w, out_t, p);
  if (!bias_t.defined()) return;
  visit_floating(out_t.dtype(), "conv_transpose2d", [&]<typename T>() {
    T* out = out_t.data<T>();
    const T* bias = bias_t.data<T>();
    const int64_t N = out_t.size(0), O = out_t.size(1), plane = out_t.size(2) * out_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t o = 0; o < O; ++o) {
        const T b = bias[o * bias_t.stride(0)];
        T* row = out + (n * O + o) * plane;
        for (int64_t i = 0; i < plane; ++i) row[i] += b;
      }
  });
}

// out = max over the in-bounds part of the window (the -inf padding never wins); index = ih * W + iw.
// The first maximum in row-major window order wins ties (strict >); a NaN always replaces the
// current maximum, so NaN propagates (both as PyTorch's CPU kernel).
static void max_pool2d_cpu(const Tensor& x_t, const Tensor& out_t, const Tensor& idx_t, const Pool2dParams& p) {
  visit_floating(x_t.dtype(), "max_pool2d", [&]<typename T>() {
    Strided4<const T> x(x_t);
    Strided4<T> out(out_t);
    Strided4<int64_t> idx(idx_t);
    const int64_t N = x_t.size(0), C = x_t.size(1), H = x_t.size(2), W = x_t.size(3);
    const int64_t HO = out_t.size(2), WO = out_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            T best = -std::numeric_limits<T>::infinity();
            int64_t best_index = -1;
            for (int64_t ih = oh * p.stride.h - p.padding.h; ih < oh * p.stride.h - p.padding.h + p.kernel.h; ++ih) {
              if (ih < 0 || ih >= H) continue;
              for (int64_t iw = ow * p.stride.w - p.padding.w; iw < ow * p.stride.w - p.padding.w + p.kernel.w; ++iw) {
                if (iw < 0 || iw >= W) continue;
                const T v = x(n, c, ih, iw);
                if (best_index < 0 || v > best || std::isnan(v)) {
                  best = v;
                  best_index = ih * W + iw;
                }
              }
            }
            out(n, c, oh, ow) = best;
            idx(n, c, oh, ow) = best_index;
          }
  });
}

// gx = 0; gx[n,c][indices[n,c,oh,ow]] += g[n,c,oh,ow].
static void max_pool2d_backward_cpu(const Tensor& g_t, const Tensor& idx_t, const Tensor& gx_t) {
  visit_floating(g_t.dtype(), "max_pool2d_backward", [&]<typename T>() {
    zero_fill<T>(gx_t);
    Strided4<const T> g(g_t);
    Strided4<const int64_t> idx(idx_t);
    Strided4<T> gx(gx_t);
    const int64_t N = g_t.size(0), C = g_t.size(1), HO = g_t.size(2), WO = g_t.size(3);
    const int64_t H = gx_t.size(2), W = gx_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            const int64_t i = idx(n, c, oh, ow);
            CXR_CHECK(i >= 0 && i < H * W, "max_pool2d_backward: index ", i, " out of range for an input plane of ",
                      H, "x", W);
            gx(n, c, i / W, i % W) += g(n, c, oh, ow);
          }
  });
}

// The window of output (oh, ow) clipped to the input, and its divisor (see avg_pool2d).
struct AvgWindow {
  int64_t h0, h1, w0, w1;  // [h0, h1) x [w0, w1)
  int64_t divisor;
};
static AvgWindow avg_window(int64_t oh, int64_t ow, int64_t H, int64_t W, const Pool2dParams& p) {
  int64_t h0 = oh * p.stride.h - p.padding.h, w0 = ow * p.stride.w - p.padding.w;
  int64_t h1 = std::min(h0 + p.kernel.h, H + p.padding.h), w1 = std::min(w0 + p.kernel.w, W + p.padding.w);
  const int64_t padded_count = (h1 - h0) * (w1 - w0);  // cells inside the padded input
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, H), w1 = std::min(w1, W);
  return {h0, h1, w0, w1, p.count_include_pad ? padded_count : (h1 - h0) * (w1 - w0)};
}

static void avg_pool2d_cpu(const Tensor& x_t, const Tensor& out_t, const Pool2dParams& p) {
  visit_floating(x_t.dtype(), "avg_pool2d", [&]<typename T>() {
    Strided4<const T> x(x_t);
    Strided4<T> out(out_t);
    const int64_t N = x_t.size(0), C = x_t.size(1), H = x_t.size(2), W = x_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < out_t.size(2); ++oh)
          for (int64_t ow = 0; ow < out_t.size(3); ++ow) {
            const AvgWindow win = avg_window(oh, ow, H, W, p);
            double acc = 0;
            for (int64_t ih = win.h0; ih < win.h1; ++ih)
              for (int64_t iw = win.w0; iw < win.w1; ++iw) acc += double(x(n, c, ih, iw));
            out(n, c, oh, ow) = T(acc / double(win.divisor));
          }
  });
}

static void avg_pool2d_backward_cpu(const Tensor& g_t, const Tensor& gx_t, const Pool2dParams& p) {
  visit_floating(g_t.dtype(), "avg_pool2d_backward", [&]<typename T>() {
    zero_fill<T>(gx_t);
    Strided4<const T> g(g_t);
    Strided4<T> gx(gx_t);
    const int64_t N = gx_t.size(0), C = gx_t.size(1), H = gx_t.size(2), W = gx_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < g_t.size(2); ++oh)
          for (int64_t ow = 0; ow < g_t.size(3); ++ow) {
            const AvgWindow win = avg_window(oh, ow, H, W, p);
            const T share = T(double(g(n, c, oh, ow)) / double(win.divisor));
            for (int64_t ih = win.h0; ih < win.h1; ++ih)
              for (int64_t iw = win.w0; iw < win.w1; ++iw) gx(n, c, ih, iw) += share;
          }
  });
}

static void adaptive_avg_pool2d_cpu(const Tensor& x_t, const Tensor& out_t) {
  visit_floating(x_t.dtype(), "adaptive_avg_pool2d", [&]<typename T>() {
    Strided4<const T> x(x_t);
    Strided4<T> out(out_t);
    const int64_t N = x_t.size(0), C = x_t.size(1), H = x_t.size(2), W = x_t.size(3);
    const int64_t HO = out_t.size(2), WO = out_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            const int64_t h0 = adaptive_start(oh, H, HO), h1 = adaptive_end(oh, H, HO);
            const int64_t w0 = adaptive_start(ow, W, WO), w1 = adaptive_end(ow, W, WO);
            double acc = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) acc += double(x(n, c, ih, iw));
            out(n, c, oh, ow) = T(acc / double((h1 - h0) * (w1 - w0)));
          }
  });
}

static void adaptive_avg_pool2d_backward_cpu(const Tensor& g_t, const Tensor& gx_t) {
  visit_floating(g_t.dtype(), "adaptive_avg_pool2d_backward", [&]<typename T>() {
    zero_fill<T>(gx_t);
    Strided4<const T> g(g_t);
    Strided4<T> gx(gx_t);
    const int64_t N = gx_t.size(0), C = gx_t.size(1), H = gx_t.size(2), W = gx_t.size(3);
    const int64_t HO = g_t.size(2), WO = g_t.size(3);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t oh = 0; oh < HO; ++oh)
          for (int64_t ow = 0; ow < WO; ++ow) {
            const int64_t h0 = adaptive_start(oh, H, HO), h1 = adaptive_end(oh, H, HO);
            const int64_t w0 = adaptive_start(ow, W, WO), w1 = adaptive_end(ow, W, WO);
            const T share = T(double(g(n, c, oh, ow)) / double((h1 - h0) * (w1 - w0)));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) gx(n, c, ih, iw) += share;
          }
  });
}

KernelTable<Conv2dFn> conv2d_kernel{"conv2d", {
    .cpu_reference = conv2d_cpu,
    .cpu_fast = cpu::conv2d_fast,
    .cuda = CXR_CUDA_KERNEL(conv2d),
    .cuda_library = CXR_CUDA_LIBRARY_KERNEL(cudnn_conv2d),
}};
KernelTable<Conv2dBackwardInputFn> conv2d_backward_input_kernel{"conv2d_backward_input", {
    .cpu_reference = conv2d_backward_input_cpu,
    .cpu_fast = cpu::conv2d_backward_input_fast,
    .cuda = CXR_CUDA_KERNEL(conv2d_backward_input),
    .cuda_library = CXR_CUDA_LIBRARY_KERNEL(cudnn_conv2d_backward_input),
}};
KernelTable<Conv2dBackwardWeightFn> conv2d_backward_weight_kernel{"conv2d_backward_weight", {
    .cpu_reference = conv2d_backward_weight_cpu,
    .cpu_fast = cpu::conv2d_backward_weight_fast,
    .cuda = CXR_CUDA_KERNEL(conv2d_backward_weight),
    .cuda_library = CXR_CUDA_LIBRARY_KERNEL(cudnn_conv2d_backward_weight),
}};
KernelTable<ConvTranspose2dFn> conv_transpose2d_kernel{"conv_transpose2d", {
    .cpu_reference = conv_transpose2d_cpu,
    .cpu_fast = conv_transpose2d_fast,
    .cuda = CXR_CUDA_KERNEL(conv_transpose2d),
    .cuda_library = CXR_CUDA_LIBRARY_KERNEL(cudnn_conv_transpose2d),
}};
KernelTable<MaxPool2dFn> max_pool2d_kernel{"max_pool2d", {
    .cpu_reference = max_pool2d_cpu,
    .cuda = CXR_CUDA_KERNEL(max_pool2d),
}};
KernelTable<MaxPool2dBackwardFn> max_pool2d_backward_kernel{"max_pool2d_backward", {
    .cpu_reference = max_pool2d_backward_cpu,
    .cuda = CXR_CUDA_KERNEL(max_pool2d_backward),
}};
KernelTable<AvgPool2dFn> avg_pool2d_kernel{"avg_pool2d", {
    .cpu_reference = avg_pool2d_cpu,
    .cuda = CXR_CUDA_KERNEL(avg_pool2d),
}};
KernelTable<AvgPool2dBackwardFn> avg_pool2d_backward_kernel{"avg_pool2d_backward", {
    .cpu_reference = avg_pool2d_backward_cpu,
    .cuda = CXR_CUDA_KERNEL(avg_pool2d_backward),
}};
KernelTable<AdaptiveAvgPool2dFn> adaptive_avg_pool2d_kernel{"adaptive_avg_pool2d", {
    .cpu_reference = adaptive_avg_pool2d_cpu,
    .cuda = CXR_CUDA_KERNEL(adaptive_avg_pool2d),
}};
KernelTable<AdaptiveAvgPool2dBackwardFn> adaptive_avg_pool2d_backward_kernel{"adaptive_avg_pool2d_backward", {
    .cpu_reference = adaptive_avg_pool2d_backward_cpu,
    .cuda = CXR_CUDA_KERNEL(adaptive_avg_pool2d_backward),
}};

}  // namespace cxr
