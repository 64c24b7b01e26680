// elementwise.h — pointwise ops with PyTorch broadcasting: arithmetic, activations, comparisons,
// where and masked_fill. Tensor–tensor ops need equal dtypes (no implicit promotion); a double
// operand takes the tensor's dtype. Comparisons return Bool tensors.
#pragma once

#include <optional>

#include "tensor/kernels/elementwise.h"
#include "tensor/tensor.h"

namespace cxr {


Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // not differentiable (gradient zero)
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact: x * Phi(x) = x/2 * (1 + erf(x/sqrt 2))
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1, double threshold = 20);

// Comparisons (not differentiable) -> Bool
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

Tensor logical_and(const Tensor& a, const Tensor& b);  // Bool
Tensor logical_not(const Tensor& a);                   // Bool

// out = cond ? a : b, broadcasting all three; cond is Bool.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// out = mask ? value : x, mask (Bool) broadcast to x's shape.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Scalar operands: the double becomes a 0-dim tensor of the other operand's dtype.
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

}  // namespace cxr
