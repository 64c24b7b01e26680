// critic.h — the concat critic of the MI objectives (METHODS.md §8): T(x, y) = MLP([x; y]),
// Linear(dx+dy, h1) -> ReLU -> Linear(h1, h2) -> ReLU -> ... -> Linear(hk, 1); the reference is
// make_mlp(1536, [1024, 512]) (hidden defaults to {1024, 512}).
//
// Parameter names are those of the reference's bare nn.Sequential (its mi_discriminator):
// "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias" (the ReLUs are children "1",
// "3" without parameters), so a state_dict of that Sequential loads as it is; the weights are
// drawn in the same order as nn::make_mlp(dx + dy, hidden, 1, gen), so both give equal weights
// for one seed. Nested in a model under a name N, the names become "N.0.weight", ...
//
// Shapes: x (B, dx), y (B', dy). scores(x, y) is the (B, B') matrix of every pair T(x_i, y_j).
// Fast path: the first layer keeps one weight W (h1, dx+dy); split as W = [Wx | Wy],
//   W [x_i; y_j] + b = (Wx x_i) + (Wy y_j + b),
// so it costs B dx h1 + B' dy h1 multiply-adds and a broadcast add over (B, B', h1) instead of
// B B' (dx+dy) h1 on B B' materialized concatenations (docs/MI.md has the numbers). The layers
// after the first run on all B B' pairs in both paths.
#pragma once

#include <memory>
#include <vector>

#include "nn/layers.h"
#include "nn/module.h"

namespace cxr::mi {

class ConcatCritic : public nn::Module {
 public:
  ConcatCritic(int64_t dx, int64_t dy, std::vector<int64_t> hidden = {1024, 512}, Generator* gen = nullptr);
  std::string type_name() const override { return "ConcatCritic"; }
  std::string extra_repr() const override;

  // x (B, dx), y (B', dy) -> (B, B'), scores[i][j] = T(x_i, y_j), by the split first layer.
  Tensor scores(const Tensor& x, const Tensor& y);
  // The same values by materializing every concatenation [x_i; y_j] (the reference's way).
  Tensor scores_naive(const Tensor& x, const Tensor& y);
  // x (N, dx), y (N, dy) -> (N): T(x_n, y_n) for matched rows.
  Tensor score_pairs(const Tensor& x, const Tensor& y);
  // Batched fast path: x (L, B, dx), y (B', dy) -> (L, B, B'): the score matrices of L sets of x
  // (e.g. the local features at L locations) against one set of y.
  Tensor scores_batched(const Tensor& x, const Tensor& y);

  int64_t dx() const { return dx_; }
  int64_t dy() const { return dy_; }
  const std::vector<std::shared_ptr<nn::Linear>>& linears() const { return linears_; }

 private:
  void check_features(const char* op, const Tensor& x, const Tensor& y, int64_t x_dims) const;
  // The layers after the first: ReLU(h) -> Linear -> ReLU -> ... -> Linear, on (..., h1) ->
  // (...) (the trailing size-1 output dim dropped). With no hidden layer, h is the score.
  Tensor after_first_layer(const Tensor& h) const;

  int64_t dx_, dy_;
  std::vector<std::shared_ptr<nn::Linear>> linears_;
};

}  // namespace cxr::mi
