// train_mlp.cpp — the engine alone (cxr_engine; no image, DICOM or text code): a 2-16-1 MLP
// learns XOR with Adam. Exits 0 when the final loss is below 0.01 (a ctest runs it).
#include <cstdio>

#include "nn/layers.h"
#include "nn/optim.h"
#include "ops/ops.h"
#include "tensor/random.h"

int main() {
  using namespace cxr;
  manual_seed(0);
  nn::Sequential mlp({std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::Tanh>(),
                      std::make_shared<nn::Linear>(16, 1)});
  nn::Adam adam(nn::param_groups(mlp, /*lr=*/0.05));
  const Tensor x = from_vector({0, 0, 0, 1, 1, 0, 1, 1}, {4, 2}), y = from_vector({0, 1, 1, 0}, {4, 1});
  double last = 0;
  for (int step = 0; step < 300; ++step) {
    adam.zero_grad();
    Tensor loss = mean(pow(mlp.forward(x) - y, 2.0));
    loss.backward();
    adam.step();
    last = loss.item();
    if (step % 100 == 0) std::printf("step %3d  loss %.5f\n", step, last);
  }
  std::printf("final loss %.6f\n", last);
  return last < 0.01 ? 0 : 1;
}
