// ops.h — every tensor op of cxrlab, by family. Each family's .cpp holds, per op: the forward,
// the named backward, the math in a comment, the readable CPU reference kernel, and the
// KernelTable that names every backend's kernel for it (signatures in tensor/kernels/).
// The layer above the tensor core, the backends and autograd (docs/ARCHITECTURE.md).
#pragma once

#include "tensor/tensor.h"
#include "ops/copy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/linalg.h"
#include "ops/conv.h"
#include "ops/norm.h"
#include "ops/loss.h"
#include "ops/index.h"
#include "ops/attention.h"
