// ladders.cpp — every kernel ladder of the backend, in the order docs/KERNELS.md lists them.
#include "cuda/kernels/attention/attention.h"
#include "cuda/kernels/bnstats/bnstats.h"
#include "cuda/kernels/conv2d/conv2d.h"
#include "cuda/kernels/layernorm/layernorm.h"
#include "cuda/kernels/sgemm/sgemm.h"
#include "cuda/kernels/softmax/softmax.h"
#include "cuda/kernels/versions.h"

namespace cxr::cuda {

const std::vector<const KernelLadder*>& kernel_ladders() {
  static const std::vector<const KernelLadder*> all = {&sgemm_ladder(),     &conv2d_ladder(),   &softmax_ladder(),
                                                         &layer_norm_ladder(), &bn_stats_ladder(), &attention_ladder()};
  return all;
}

}  // namespace cxr::cuda
