// conv2d.h — the convolution ladder of the kernel study (docs/KERNELS.md): conv2d's three passes
// in float32 on NCHW tensors, one version per file in cuda/kernels/conv2d/ (v1 direct, v2 direct
// with shared-memory tiles for the early layers, v3 the backend's implicit GEMM, v4 an implicit
// GEMM tuned for the wide late layers), and the rule that picks a version per pass and shape.
//   forward         out (N, C_out, HO, WO) = conv(x (N, C_in, H, W), w (C_out, C_in, KH, KW)) + bias
//   backward data   grad_x (N, C_in, H, W) from grad_out (N, C_out, HO, WO) and w (+ bias: conv_transpose2d)
//   backward weight grad_w (C_out, C_in, KH, KW) from grad_out and x: deterministic (no atomics)
// The math and the index algebra are ops/conv.cpp's. Plain C++ (the bench and the tests see it).
#pragma once

#include <cstdint>
#include <string>

#include "cuda/kernels/versions.h"
#include "tensor/kernels/conv.h"

namespace cxr::cuda {

enum class ConvPass { Forward, BackwardData, BackwardWeight };
const char* conv_pass_name(ConvPass pass);  // "forward", "backward data", "backward weight"

// The sizes of one convolution (the output extent follows from the others, as in ops/conv.cpp).
struct Conv2dShape {
  int64_t N = 0, C_in = 0, H = 0, W = 0, C_out = 0, KH = 0, KW = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t HO = 0, WO = 0;
};
// Throws naming the sizes when the output would be empty or a size is not positive.
Conv2dShape conv2d_shape(int64_t N, int64_t C_in, int64_t H, int64_t W, int64_t C_out, int64_t KH, int64_t KW,
                         const Conv2dParams& p);
Conv2dParams conv2d_params(const Conv2dShape& s);
std::string conv2d_shape_str(const Conv2dShape& s);  // "64x8x128x128 -> 8, 3x3, stride 1, pad 1, dil 1"

const KernelLadder& conv2d_ladder();

// The version the rule picks for a pass of this shape (docs/KERNELS.md, "The rule"): v2 for the
// early layers (the pass's GEMM rows, C_out or C_in, at most 16 channels: tiny C, huge maps), v4
// for the rest; each only where it runs (32-bit indices, v2's shared tiles), else v3.
int conv2d_rule_version(ConvPass pass, const Conv2dShape& s);
// CXR_CUDA_VERSION_CONV2D=n when set (selected_version), else the rule: what the backend runs.
int conv2d_version(ConvPass pass, const Conv2dShape& s);

// Version `version` of a pass on CUDA float32 tensors (inputs any strides, outputs contiguous and
// overwritten), on the backend's stream. Errors name the pass, the version and the shapes.
void conv2d_forward_version(int version, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out,
                            const Conv2dParams& p);
void conv2d_backward_data_version(int version, const Tensor& grad_out, const Tensor& w, const Tensor& bias,
                                  const Tensor& grad_x, const Conv2dParams& p);
void conv2d_backward_weight_version(int version, const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                    const Conv2dParams& p);

// cuDNN on the same operands, the bench's yardstick (library.cu's algorithms: deterministic,
// FP32 math). Throws in the emulated build (no cuDNN).
void cudnn_conv2d_pass(ConvPass pass, const Tensor& a, const Tensor& b, const Tensor& out, const Conv2dParams& p);

// ---- v3, the backend's implicit GEMM on the GEMM core of cuda/gemm.cuh (cuda/conv.cu) ----
// Float32 and float64, strided inputs: the backend's kernel for float64 and for shapes the ladder's
// other versions cannot take.
void gemm_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& out, const Conv2dParams& p);
void gemm_conv2d_backward_data(const Tensor& grad_out, const Tensor& w, const Tensor& bias, const Tensor& grad_x,
                               const Conv2dParams& p);
void gemm_conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Tensor& grad_w,
                                 const Conv2dParams& p);

}  // namespace cxr::cuda
