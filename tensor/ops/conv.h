// conv.h — 2-D convolution and pooling, NCHW.
//   x: (N, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out) or undefined.
//   H_out = floor((H + 2*pad_h - dil_h*(kH-1) - 1) / stride_h) + 1, same for W.
#pragma once

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

// A (height, width) pair; a single number means both.
struct Size2 {
  int64_t h, w;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: implicit by design, as in PyTorch's int-or-tuple
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1);
// stride defaults to the kernel size when given as 0 (PyTorch's stride=None). Padding is -inf.
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);
// count_include_pad = true (PyTorch's default): padded zeros count in the divisor.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                  bool count_include_pad = true);
// Output (N, C, out.h, out.w); window i spans [floor(i*H/out), ceil((i+1)*H/out)).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

// Named backward functions (exposed for auditing and kernel tests).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             Size2 stride, Size2 padding, Size2 dilation);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              Size2 stride, Size2 padding, Size2 dilation);

}  // namespace cxr
