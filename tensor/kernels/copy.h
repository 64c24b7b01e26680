// tensor/kernels/copy.h — fill and copy: the two memory kernels everything leans on (ops/copy.h has
// the ops).
// The signature of each kernel (its *Fn type), the op codes and parameters it takes, and its
// KernelTable. The tables are defined next to their reference kernels in ops/copy.cpp; the
// backends (tensor/cpu/, cuda/) implement these signatures and include only this layer.
#pragma once

#include <cstdint>

#include "tensor/dispatch.h"
#include "tensor/tensor.h"

namespace cxr {

using FillFn = void(const Tensor& dst, double value);
using CopyFn = void(const Tensor& dst, const Tensor& src);
extern KernelTable<FillFn> fill_kernel;
extern KernelTable<CopyFn> copy_kernel;

}  // namespace cxr
