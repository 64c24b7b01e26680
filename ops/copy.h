// copy.h — the two memory kernels everything else leans on: fill a (possibly strided) tensor with
// a value, and copy one tensor into another of the same shape, converting dtype if needed.
// Tensor::contiguous/clone/to (differentiable) are built on copy_.
#pragma once

#include "tensor/kernels/copy.h"
#include "tensor/tensor.h"

namespace cxr {

// In place, not recorded by autograd (use them on fresh tensors or under NoGradGuard).
void fill_(const Tensor& dst, double value);
void copy_(const Tensor& dst, const Tensor& src);  // shapes must match; dtypes may differ

}  // namespace cxr
