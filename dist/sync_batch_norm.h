// sync_batch_norm.h — BatchNorm whose batch statistics are those of the global batch, summed over
// the ranks (--sync-bn; docs/DISTRIBUTED.md), as torch.nn.SyncBatchNorm. x: (N, C, *) on each rank.
//   forward:  S = allsum(sum x), M = allsum(count), mean = S / M,
//             var = allsum(sum (x - mean)^2) / M (two passes, as batch_norm: no E[x^2] - mean^2
//             cancellation), y = (x - mean) rsqrt(var + eps) w + b; running statistics updated from
//             the global mean and the unbiased global variance var M / (M - 1)
//   backward: the same graph, through all_reduce_sum, whose backward is the all-sum of its output
//             gradient; so the x-gradient gets the global sums of g and g xhat that the batch-norm
//             backward needs (the terms torch's SyncBatchNorm all-reduces), and the weight and bias
//             gradients stay this rank's part, to be averaged with the others by the reducer.
// Every rank must run the same BatchNorm layers in the same order (the same model, the same step).
#pragma once

#include <memory>
#include <string>

#include "dist/comm.h"
#include "nn/layers.h"

namespace cxr::dist {

// Sum over the ranks of a tensor, differentiable (backward: the sum over the ranks of the gradient).
// Small tensors (per-channel statistics): exchanged as host doubles.
Tensor all_reduce_sum(Communicator& comm, const Tensor& x, const std::string& what);

class SyncBatchStatistics final : public nn::BatchStatistics {
 public:
  explicit SyncBatchStatistics(Communicator& comm) : comm_(comm) {}
  Tensor forward(nn::BatchNorm& bn, const Tensor& x) override;

 private:
  Communicator& comm_;
};

// Gives every BatchNorm under `module` the synchronized statistics; returns how many layers.
int64_t use_sync_batch_norm(nn::Module& module, Communicator& comm);

}  // namespace cxr::dist
