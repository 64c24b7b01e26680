// pending.cu — TEMPORARY: the CUDA kernels not written yet, each failing with its name. Removed
// entry by entry as the kernels land; the backend is not done while this file exists.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {

void bmm(const Tensor&, const Tensor&, const Tensor&) { fail("cuda: bmm is not written yet"); }
void conv2d(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) { fail("cuda: conv2d is not written yet"); }
void conv2d_backward_input(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) { fail("cuda: conv2d_backward_input is not written yet"); }
void conv2d_backward_weight(const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) { fail("cuda: conv2d_backward_weight is not written yet"); }
void conv_transpose2d(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Conv2dParams&) { fail("cuda: conv_transpose2d is not written yet"); }
void max_pool2d(const Tensor&, const Tensor&, const Tensor&, const Pool2dParams&) { fail("cuda: max_pool2d is not written yet"); }
void max_pool2d_backward(const Tensor&, const Tensor&, const Tensor&) { fail("cuda: max_pool2d_backward is not written yet"); }
void avg_pool2d(const Tensor&, const Tensor&, const Pool2dParams&) { fail("cuda: avg_pool2d is not written yet"); }
void avg_pool2d_backward(const Tensor&, const Tensor&, const Pool2dParams&) { fail("cuda: avg_pool2d_backward is not written yet"); }
void adaptive_avg_pool2d(const Tensor&, const Tensor&) { fail("cuda: adaptive_avg_pool2d is not written yet"); }
void adaptive_avg_pool2d_backward(const Tensor&, const Tensor&) { fail("cuda: adaptive_avg_pool2d_backward is not written yet"); }

}  // namespace cxr::cuda
