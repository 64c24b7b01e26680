// ops.h — every tensor op of cxrlab, by family. Each family's .cpp holds, per op: the forward,
// the named backward, the math in a comment, and the readable CPU reference kernel.
#pragma once

#include "tensor/tensor.h"
#include "tensor/ops/copy.h"
#include "tensor/ops/elementwise.h"
#include "tensor/ops/reduce.h"
#include "tensor/ops/linalg.h"
#include "tensor/ops/conv.h"
#include "tensor/ops/norm.h"
#include "tensor/ops/loss.h"
#include "tensor/ops/index.h"
