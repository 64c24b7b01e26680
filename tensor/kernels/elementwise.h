// tensor/kernels/elementwise.h — pointwise kernels: the unary and binary op codes, clamp and where
// (ops/elementwise.h has the ops).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/elementwise.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Relu, Gelu, Tanh, Sigmoid, Softplus,
  // derivative helpers used by backward functions
  ReluMask, GeluDerivative,
};
enum class BinaryOp { Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge };

// unary: out = f(x) elementwise; x and out have the same shape (x may be strided); `params` is
// read by softplus only. binary/where: inputs already expanded to out's shape.
struct UnaryParams { double beta = 1, threshold = 20; };
using UnaryFn = void(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams params);
using BinaryFn = void(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
using ClampFn = void(const Tensor& x, const Tensor& out, double lo, double hi);
using WhereFn = void(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
extern KernelTable<UnaryFn> unary_kernel;
extern KernelTable<BinaryFn> binary_kernel;
extern KernelTable<ClampFn> clamp_kernel;
extern KernelTable<WhereFn> where_kernel;

}  // namespace cxr
