// resnet_testing.h — the ResNet weight recipe of tools/goldens/resnet.py, shared by the tests that
// compare ResNets with PyTorch (test_resnet.cpp, test_interpret.cpp): parameters in sorted-name
// order, each value drawn from Philox in float64 and rounded to float32, so both sides build the
// same model from a seed and no weights need to be stored.
#pragma once

#include <algorithm>
#include <cmath>

#include "nn/models/resnet.h"
#include "testing.h"

namespace cxr::testing {

// Parameters by sorted name: the draw order of the recipe.
inline nn::NamedTensors sorted_parameters(const nn::Module& m) {
  nn::NamedTensors named = m.named_parameters();
  std::sort(named.begin(), named.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return named;
}

// Convolutions: Kaiming normal (fan_out); fc1: U(-1/sqrt(768), 1/sqrt(768)); BatchNorm weights
// N(1, 0.1^2) and biases N(0, 0.1^2).
inline void fill_resnet_parameters(nn::ResNet& model, uint64_t seed) {
  Generator gen(seed);
  const TensorOptions f64{.dtype = DType::Float64};
  const double bound = 1.0 / std::sqrt(768.0);
  NoGradGuard no_grad;
  for (auto& [name, p] : sorted_parameters(model)) {
    Tensor v;
    if (p.dim() == 4) {
      double fan_out = double(p.size(0) * p.size(2) * p.size(3));
      v = randn(p.shape(), f64, &gen) * std::sqrt(2.0 / fan_out);
    } else if (name.starts_with("fc1.")) {
      v = (rand(p.shape(), f64, &gen) * 2.0 - 1.0) * bound;
    } else if (name.ends_with("weight")) {
      v = randn(p.shape(), f64, &gen) * 0.1 + 1.0;
    } else {
      REQUIRE_MESSAGE(name.ends_with("bias"), "fill_resnet_parameters: unexpected parameter ", name);
      v = randn(p.shape(), f64, &gen) * 0.1;
    }
    copy_(p, v.to(DType::Float32));
  }
}

}  // namespace cxr::testing
