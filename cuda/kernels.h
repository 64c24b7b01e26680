// kernels.h — the CUDA backend's kernels as the ops see them: one host function per KernelTable,
// declared with the table's own signature type (tensor/kernels/<family>.h), so a mismatch does not
// compile. Plain C++ (no CUDA headers): ops/<family>.cpp name these in their tables through
// CXR_CUDA_KERNEL, which is nullptr in a build without the backend (-DCXR_CUDA=OFF).
// Each launches on the backend's stream (cuda/runtime.h) and returns without synchronizing;
// tensors are CUDA tensors except where a table says otherwise (copy: one side may be on the CPU).
#pragma once

#include "tensor/kernels/conv.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/attention.h"
#include "tensor/kernels/index.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/loss.h"
#include "tensor/kernels/norm.h"
#include "tensor/kernels/reduce.h"

#if defined(CXR_HAS_CUDA)
#define CXR_CUDA_KERNEL(name) (&::cxr::cuda::name)
#else
#define CXR_CUDA_KERNEL(name) nullptr
#endif
// The cuBLAS/cuDNN versions exist only when nvcc built the backend (not in the emulator).
#if defined(CXR_HAS_CUDA) && !defined(CXR_CUDA_EMULATION)
#define CXR_CUDA_LIBRARY_KERNEL(name) (&::cxr::cuda::name)
#else
#define CXR_CUDA_LIBRARY_KERNEL(name) nullptr
#endif

namespace cxr::cuda {

// ---- hand-written (cuda/*.cu) ----
// copy and fill (elementwise.cu); copy also moves values between the host and the device
FillFn fill;
CopyFn copy;
// elementwise (elementwise.cu)
UnaryFn unary;
BinaryFn binary;
ClampFn clamp;
WhereFn where;
// reductions and softmax (reduce.cu): deterministic, a fixed order, no float atomics
SumFn sum;
ExtremumFn extremum;
ArgExtremumFn arg_extremum;
LogsumexpFn logsumexp;
VarFn var;
SoftmaxFn softmax;
// GEMM (gemm.cu)
BmmFn bmm;
// convolution and pooling (conv.cu, pool.cu): implicit GEMM on the GEMM core of gemm.cuh
Conv2dFn conv2d;
Conv2dBackwardInputFn conv2d_backward_input;
Conv2dBackwardWeightFn conv2d_backward_weight;
ConvTranspose2dFn conv_transpose2d;
MaxPool2dFn max_pool2d;
MaxPool2dBackwardFn max_pool2d_backward;
AvgPool2dFn avg_pool2d;
AvgPool2dBackwardFn avg_pool2d_backward;
AdaptiveAvgPool2dFn adaptive_avg_pool2d;
AdaptiveAvgPool2dBackwardFn adaptive_avg_pool2d_backward;
// fused attention (attention.cu): the attention ladder's selected version, float32 only
AttentionForwardFn scaled_dot_product_attention;
AttentionBackwardFn scaled_dot_product_attention_backward;
// normalization and dropout (norm.cu)
BatchNormForwardFn batch_norm_forward;
BatchNormBackwardFn batch_norm_backward;
LayerNormForwardFn layer_norm_forward;
LayerNormBackwardFn layer_norm_backward;
DropoutMaskFn dropout_mask;
// losses (loss.cu) and indexing (index.cu)
CrossEntropyFn cross_entropy;
CrossEntropyBackwardFn cross_entropy_backward;
IndexSelectFn index_select;
GatherFn gather;
ScatterAddFn scatter_add;

// ---- library versions (library.cu): cuBLAS (TF32 off) and cuDNN; float32, else the hand kernel ----
BmmFn cublas_bmm;
Conv2dFn cudnn_conv2d;
Conv2dBackwardInputFn cudnn_conv2d_backward_input;
Conv2dBackwardWeightFn cudnn_conv2d_backward_weight;
ConvTranspose2dFn cudnn_conv_transpose2d;

}  // namespace cxr::cuda
