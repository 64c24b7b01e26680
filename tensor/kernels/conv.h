// tensor/kernels/conv.h — convolution and pooling kernels, NCHW, and their parameters (ops/conv.h
// has the ops and the shape rules).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/conv.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

// A (height, width) pair; a single number means both.
struct Size2 {
  int64_t h, w;
  Size2(int64_t s) : h(s), w(s) {}  // NOLINT: implicit by design, as in PyTorch's int-or-tuple
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
};

// Inputs (x, weight, grad_out) may be strided views; outputs are fresh contiguous tensors that the
// kernel overwrites entirely. The driver has validated every shape and parameter (stride is never
// 0 here: a pool's default stride has been replaced by its kernel size).
struct Conv2dParams {
  Size2 stride, padding, dilation;
};
struct Pool2dParams {
  Size2 kernel, stride, padding;
  bool count_include_pad = true;  // avg_pool2d only
};
// out (N, C_out, H_out, W_out); bias undefined or (C_out).
using Conv2dFn = void(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                      const Conv2dParams& p);
// grad_x (N, C_in, H, W) from grad_out (N, C_out, H_out, W_out) and weight.
using Conv2dBackwardInputFn = void(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                   const Conv2dParams& p);
// grad_weight (C_out, C_in, kH, kW) from grad_out and x.
using Conv2dBackwardWeightFn = void(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight,
                                    const Conv2dParams& p);
// conv_transpose2d: x (N, C_in, H, W), weight (C_in, C_out, kH, kW), bias undefined or (C_out),
// out (N, C_out, H_out, W_out) (the output_padding is in out's size); p.dilation is always 1.
// Its backward reuses conv2d_kernel (grad input) and conv2d_backward_weight_kernel (grad weight).
using ConvTranspose2dFn = void(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out,
                               const Conv2dParams& p);
// out and indices (int64) both (N, C, H_out, W_out).
using MaxPool2dFn = void(const Tensor& x, const Tensor& out, const Tensor& indices, const Pool2dParams& p);
// grad_x (N, C, H, W): grad_out routed to the recorded indices, summed where windows overlap.
using MaxPool2dBackwardFn = void(const Tensor& grad_out, const Tensor& indices, const Tensor& grad_x);
using AvgPool2dFn = void(const Tensor& x, const Tensor& out, const Pool2dParams& p);
using AvgPool2dBackwardFn = void(const Tensor& grad_out, const Tensor& grad_x, const Pool2dParams& p);
// The output size is out's (H_out, W_out); grad_x's (H, W) is the input's.
using AdaptiveAvgPool2dFn = void(const Tensor& x, const Tensor& out);
using AdaptiveAvgPool2dBackwardFn = void(const Tensor& grad_out, const Tensor& grad_x);

extern KernelTable<Conv2dFn> conv2d_kernel;
extern KernelTable<Conv2dBackwardInputFn> conv2d_backward_input_kernel;
extern KernelTable<Conv2dBackwardWeightFn> conv2d_backward_weight_kernel;
extern KernelTable<ConvTranspose2dFn> conv_transpose2d_kernel;
extern KernelTable<MaxPool2dFn> max_pool2d_kernel;
extern KernelTable<MaxPool2dBackwardFn> max_pool2d_backward_kernel;
extern KernelTable<AvgPool2dFn> avg_pool2d_kernel;
extern KernelTable<AvgPool2dBackwardFn> avg_pool2d_backward_kernel;
extern KernelTable<AdaptiveAvgPool2dFn> adaptive_avg_pool2d_kernel;
extern KernelTable<AdaptiveAvgPool2dBackwardFn> adaptive_avg_pool2d_backward_kernel;

}  // namespace cxr
