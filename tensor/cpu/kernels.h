// kernels.h — the fast CPU kernels, one per KernelTable that has one (the table names both its
// reference and its fast kernel where it is defined, in ops/<family>.cpp). Each has the
// signature of its table's Fn and the same contract; for inputs it does not cover (a dtype, a
// layout) it calls the table's reference kernel. Tested against the reference kernels in
// tests/test_cpu_*.cpp.
#pragma once

#include "tensor/kernels/conv.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"
#include "tensor/kernels/linalg.h"
#include "tensor/kernels/norm.h"
#include "tensor/kernels/reduce.h"

namespace cxr::cpu {

// linalg (gemm.cpp)
void bmm_fast(const Tensor& a, const Tensor& b, const Tensor& out);

// conv (conv.cpp)
void conv2d_fast(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& out, const Conv2dParams& p);
void conv2d_backward_input_fast(const Tensor& grad_out, const Tensor& weight, const Tensor& grad_x,
                                const Conv2dParams& p);
void conv2d_backward_weight_fast(const Tensor& grad_out, const Tensor& x, const Tensor& grad_weight,
                                 const Conv2dParams& p);

// elementwise and copy (elementwise.cpp)
void unary_fast(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params);
void binary_fast(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void fill_fast(const Tensor& dst, double value);
void copy_fast(const Tensor& dst, const Tensor& src);

// normalization (norm.cpp)
void batch_norm_forward_fast(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double momentum, double eps, const Tensor& out,
                             const Tensor& save_mean, const Tensor& save_invstd);
void batch_norm_backward_fast(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                              const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                              const Tensor& grad_bias);

void layer_norm_forward_fast(const Tensor& x, int64_t normalized_ndim, const Tensor& weight, const Tensor& bias,
                             double eps, const Tensor& out, const Tensor& save_mean, const Tensor& save_rstd);
void layer_norm_backward_fast(const Tensor& grad_out, const Tensor& x, int64_t normalized_ndim, const Tensor& weight,
                              const Tensor& save_mean, const Tensor& save_rstd, const Tensor& grad_x,
                              const Tensor& grad_weight, const Tensor& grad_bias);

void dropout_mask_fast(const Tensor& mask, double p, double scale, uint64_t seed, uint64_t first_counter);

// reductions (reduce.cpp)
void sum_fast(const Tensor& x, const Tensor& out);
void softmax_fast(const Tensor& x, int64_t dim, bool log, const Tensor& out);

}  // namespace cxr::cpu
