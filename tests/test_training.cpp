// test_training.cpp — the engine end to end: layers + autograd + optimizers learn, and a seeded
// CPU run is bit-for-bit reproducible (llm.c's determinism test: run twice, compare exactly).
#include "nn/layers.h"
#include "nn/optim.h"
#include "testing.h"

using namespace cxr;
using namespace cxr::nn;
using namespace cxr::testing;

namespace {
// Two Gaussian blobs per class in 2-D, four classes: a small problem an MLP must learn.
std::pair<Tensor, Tensor> blobs(uint64_t seed, int64_t n) {
  Generator gen(seed);
  Tensor labels = randint(0, 4, {n}, {.dtype = DType::Int64}, &gen);
  Tensor centers = from_vector({-2, -2, 2, 2, -2, 2, 2, -2}, {4, 2});
  Tensor x = index_select(centers, 0, labels) + randn({n, 2}, {}, &gen) * 0.5;
  return {x, labels};
}

std::vector<double> train_mlp(uint64_t seed, int steps) {
  Generator init(seed);
  auto mlp = make_mlp(2, {32, 32}, 4, &init);
  Adam opt(param_groups(*mlp, 1e-2));
  auto [x, y] = blobs(seed + 1, 128);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(mlp->forward(x), y);
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}

std::vector<double> train_convnet(uint64_t seed, int steps) {
  Generator init(seed);
  Sequential net({std::make_shared<Conv2d>(1, 4, 3, 1, 1, 1, false, &init), std::make_shared<BatchNorm2d>(4),
                  std::make_shared<ReLU>(), std::make_shared<Conv2d>(4, 4, 3, 2, 1, 1, true, &init)});
  Linear head(4 * 4 * 4, 3, true, &init);
  std::vector<ParamGroup> groups = param_groups(net, 5e-3);
  groups.push_back(param_groups(head, 5e-3)[0]);
  for (auto& [name, p] : groups.back().params) name = "head." + name;
  AdamW opt(groups);
  Generator data(seed + 7);
  Tensor x = randn({6, 1, 8, 8}, {}, &data);
  Tensor y = randint(0, 3, {6}, {.dtype = DType::Int64}, &data);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    Tensor loss = cross_entropy(head.forward(net.forward(x).flatten(1)), y);
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}
}  // namespace

TEST_CASE("training: an MLP learns four blobs") {
  std::vector<double> losses = train_mlp(3, 60);
  CHECK(losses.front() > 1.0);                   // ~log 4 at the start
  CHECK(losses.back() < 0.1 * losses.front());   // and far lower at the end
}

TEST_CASE("training: seeded runs are bit-for-bit reproducible") {
  CHECK(train_mlp(11, 10) == train_mlp(11, 10));
  CHECK(train_mlp(11, 10) != train_mlp(12, 10));
  std::vector<double> a = train_convnet(5, 5), b = train_convnet(5, 5);
  CHECK(a == b);
  CHECK(a.back() < a.front());
}
