// conv.h — 2-D convolution, transposed convolution and pooling, NCHW.
//   conv2d:           x (N, C_in, H, W); weight (C_out, C_in, kH, kW); bias (C_out) or undefined;
//                     H_out = floor((H + 2*pad_h - dil_h*(kH-1) - 1) / stride_h) + 1, same for W.
//   conv_transpose2d: x (N, C_in, H, W); weight (C_in, C_out, kH, kW) (PyTorch's layout); bias (C_out);
//                     H_out = (H - 1)*stride_h - 2*pad_h + kH + output_padding_h, same for W.
#pragma once

#include <utility>

#include "tensor/kernels/conv.h"
#include "tensor/tensor.h"

namespace cxr {


Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
              Size2 padding = 0, Size2 dilation = 1);
// The transpose (adjoint) of conv2d with the same weight, stride and padding: conv2d maps a
// (N, C_out, H_out, W_out) image to (N, C_in, H, W) and conv_transpose2d maps back, upsampling by the
// stride. output_padding (0 <= output_padding < stride, as PyTorch) adds rows/columns at the bottom
// and right to pick among the H_out that conv2d maps to the same H. No groups, dilation 1.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Size2 stride = 1,
                        Size2 padding = 0, Size2 output_padding = 0);
// stride defaults to the kernel size when given as 0 (PyTorch's stride=None). Padding is -inf.
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);
// count_include_pad = true (PyTorch's default): padded zeros count in the divisor.
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                  bool count_include_pad = true);
// Output (N, C, out.h, out.w); window i spans [floor(i*H/out), ceil((i+1)*H/out)).
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);

// Like max_pool2d, also returning the int64 indices (N, C, H_out, W_out) of each window's maximum
// in its input plane, ih * W + iw (PyTorch's return_indices=True). Ties: the first in row-major
// window order; NaN propagates (a NaN in the window is the maximum).
std::pair<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel, Size2 stride = 0,
                                                  Size2 padding = 0);

// Named backward functions (exposed for auditing and kernel tests). Each returns a new gradient
// (assigned, never accumulated: leaves accumulate in the autograd engine).
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& weight, const Shape& input_shape,
                             Size2 stride, Size2 padding, Size2 dilation);
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& weight_shape,
                              Size2 stride, Size2 padding, Size2 dilation);
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, const Shape& input_shape);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape, Size2 kernel, Size2 stride,
                           Size2 padding, bool count_include_pad);
Tensor adaptive_avg_pool2d_backward(const Tensor& grad_out, const Shape& input_shape);

}  // namespace cxr
