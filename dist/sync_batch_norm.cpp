// sync_batch_norm.cpp — see sync_batch_norm.h. Built from differentiable ops plus one tape node
// (all_reduce_sum_backward), so its gradient is checked the way every op's is (tests/test_dist.cpp
// holds it to batch_norm on one rank, where the two must agree).
#include "dist/sync_batch_norm.h"

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::dist {

namespace {

std::vector<double> summed_values(Communicator& comm, const Tensor& x, const std::string& what) {
  std::vector<double> v = x.to_vector();
  comm.sum(v.data(), int64_t(v.size()), what);
  return v;
}

Tensor tensor_like(const std::vector<double>& values, const Tensor& like) {
  return copy_to(from_vector(values, like.shape(), {.dtype = like.dtype()}), like.device());
}

class AllReduceSumBackward final : public Node {
 public:
  AllReduceSumBackward(Communicator& comm, std::string what) : comm_(comm), what_(std::move(what)) {}
  const char* name() const override { return "all_reduce_sum_backward"; }
  TensorList backward(const Tensor& g) override {
    return {tensor_like(summed_values(comm_, g, what_ + " (backward)"), g)};
  }

 private:
  Communicator& comm_;
  std::string what_;
};

}  // namespace

Tensor all_reduce_sum(Communicator& comm, const Tensor& x, const std::string& what) {
  Tensor out = tensor_like(summed_values(comm, x, what), x);
  if (needs_grad({x})) record(out, std::make_shared<AllReduceSumBackward>(comm, what), {x});
  return out;
}

Tensor SyncBatchStatistics::forward(nn::BatchNorm& bn, const Tensor& x) {
  CXR_CHECK(x.dim() >= 2, "SyncBatchNorm: expected (N, C, *), got ", shape_str(x.shape()));
  const int64_t C = x.size(1);
  Dims dims = {0};
  Shape per_channel(size_t(x.dim()), 1);
  per_channel[1] = C;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  double count = double(x.numel() / C);
  comm_.sum(&count, 1, "sync batch norm: count");
  CXR_CHECK(count > 1, "SyncBatchNorm: the global batch has ", count, " values per channel; need more than 1");
  const Tensor mean = all_reduce_sum(comm_, sum(x, dims, /*keepdim=*/true), "sync batch norm: sum") / count;
  const Tensor centered = x - mean;
  const Tensor var =
      all_reduce_sum(comm_, sum(centered * centered, dims, /*keepdim=*/true), "sync batch norm: squares") / count;
  Tensor y = centered * rsqrt(var + bn.eps);
  if (bn.weight.defined()) y = y * bn.weight.view(per_channel) + bn.bias.view(per_channel);
  if (bn.running_mean.defined()) {
    NoGradGuard no_grad;
    const double m = bn.momentum;
    copy_(bn.running_mean, bn.running_mean * (1 - m) + mean.detach().view({C}) * m);
    copy_(bn.running_var, bn.running_var * (1 - m) + var.detach().view({C}) * (m * count / (count - 1)));
  }
  return y;
}

int64_t use_sync_batch_norm(nn::Module& module, Communicator& comm) {
  auto stats = std::make_shared<SyncBatchStatistics>(comm);
  int64_t n = 0;
  std::vector<nn::Module*> stack{&module};
  while (!stack.empty()) {
    nn::Module* m = stack.back();
    stack.pop_back();
    if (auto* bn = dynamic_cast<nn::BatchNorm*>(m)) {
      bn->statistics = stats;
      ++n;
    }
    for (auto& [name, child] : m->named_children()) stack.push_back(child);
  }
  return n;
}

}  // namespace cxr::dist
