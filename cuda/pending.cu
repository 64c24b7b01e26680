// pending.cu — TEMPORARY: the CUDA kernels not written yet, each failing with its name. Removed
// entry by entry as the kernels land; the backend is not done while this file exists.
#include "cuda/common.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {

void sum(const Tensor&, const Tensor&) { fail("cuda: sum is not written yet"); }
void extremum(bool, const Tensor&, const Tensor&) { fail("cuda: extremum is not written yet"); }
void arg_extremum(bool, const Tensor&, int64_t, const Tensor&) { fail("cuda: arg_extremum is not written yet"); }
void logsumexp(const Tensor&, const Tensor&) { fail("cuda: logsumexp is not written yet"); }
void var(const Tensor&, const Tensor&, int64_t) { fail("cuda: var is not written yet"); }
void softmax(const Tensor&, int64_t, bool, const Tensor&) { fail("cuda: softmax is not written yet"); }
void batch_norm_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, double, double, const Tensor&, const Tensor&, const Tensor&) { fail("cuda: batch_norm_forward is not written yet"); }
void batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, const Tensor&, const Tensor&, const Tensor&) { fail("cuda: batch_norm_backward is not written yet"); }
void layer_norm_forward(const Tensor&, int64_t, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&) { fail("cuda: layer_norm_forward is not written yet"); }
void layer_norm_backward(const Tensor&, const Tensor&, int64_t, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&) { fail("cuda: layer_norm_backward is not written yet"); }
void dropout_mask(const Tensor&, double, double, uint64_t, uint64_t) { fail("cuda: dropout_mask is not written yet"); }
void cross_entropy(const Tensor&, const Tensor&, int64_t, const Tensor&) { fail("cuda: cross_entropy is not written yet"); }
void cross_entropy_backward(const Tensor&, const Tensor&, int64_t, const Tensor&, const Tensor&) { fail("cuda: cross_entropy_backward is not written yet"); }
void index_select(const char*, const Tensor&, int64_t, const Tensor&, const Tensor&) { fail("cuda: index_select is not written yet"); }
void gather(const char*, const Tensor&, int64_t, const Tensor&, const Tensor&) { fail("cuda: gather is not written yet"); }
void scatter_add(const char*, const Tensor&, int64_t, const Tensor&, const Tensor&) { fail("cuda: scatter_add is not written yet"); }

}  // namespace cxr::cuda
