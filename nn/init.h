// init.h — parameter initializers (in place, not recorded by autograd). Random ones draw from a
// cxr::Generator (the default generator when none is given), so a seed fixes a model's weights.
// Fans follow PyTorch: for a weight (out, in, k...) fan_in = in*prod(k), fan_out = out*prod(k).
#pragma once

#include "tensor/tensor.h"

namespace cxr::nn::init {

int64_t fan_in(const Tensor& weight);
int64_t fan_out(const Tensor& weight);

void uniform_(const Tensor& t, double low, double high, Generator* gen = nullptr);
void normal_(const Tensor& t, double mean, double std, Generator* gen = nullptr);
void constant_(const Tensor& t, double value);
void zeros_(const Tensor& t);
void ones_(const Tensor& t);
// N(0, std) with std = sqrt(2 / fan_out): He et al. for ReLU nets, PyTorch's
// kaiming_normal_(mode="fan_out", nonlinearity="relu").
void kaiming_normal_fan_out_relu_(const Tensor& weight, Generator* gen = nullptr);
// PyTorch's default for Linear and Conv2d: kaiming_uniform_(a = sqrt 5) on the weight, which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias draws from the same bound.
void default_linear_conv_(const Tensor& weight, const Tensor& bias, Generator* gen = nullptr);

}  // namespace cxr::nn::init
