// init.cpp — see init.h.
#include "nn/init.h"

#include <cmath>

#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::nn::init {

int64_t fan_in(const Tensor& w) {
  CXR_CHECK(w.dim() >= 2, "init: fan_in needs a weight with at least 2 dims, got ", shape_str(w.shape()));
  return w.numel() / w.size(0);
}

int64_t fan_out(const Tensor& w) {
  CXR_CHECK(w.dim() >= 2, "init: fan_out needs a weight with at least 2 dims, got ", shape_str(w.shape()));
  return w.numel() / w.size(1);
}

void uniform_(const Tensor& t, double low, double high, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, rand(t.shape(), {.dtype = t.dtype()}, gen) * (high - low) + low);
}

void normal_(const Tensor& t, double mean, double std, Generator* gen) {
  NoGradGuard no_grad;
  copy_(t, randn(t.shape(), {.dtype = t.dtype()}, gen) * std + mean);
}

void constant_(const Tensor& t, double value) { fill_(t, value); }
void zeros_(const Tensor& t) { fill_(t, 0); }
void ones_(const Tensor& t) { fill_(t, 1); }

void kaiming_normal_fan_out_relu_(const Tensor& w, Generator* gen) {
  normal_(w, 0.0, std::sqrt(2.0 / double(fan_out(w))), gen);
}

void default_linear_conv_(const Tensor& weight, const Tensor& bias, Generator* gen) {
  double bound = 1.0 / std::sqrt(double(fan_in(weight)));
  uniform_(weight, -bound, bound, gen);
  if (bias.defined()) uniform_(bias, -bound, bound, gen);
}

}  // namespace cxr::nn::init
