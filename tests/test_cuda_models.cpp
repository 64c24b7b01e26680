// test_cuda_models.cpp — whole models on the CUDA device: the resnet256_6_2_1 and BERT PyTorch
// goldens checked exactly as on the CPU (resnet_parity.h, bert_parity.h, same tolerances), and ten
// training steps on the device against the same ten on the CPU.
#include "bert_parity.h"
#include "cuda_testing.h"
#include "nn/models/resnet.h"
#include "nn/optim.h"
#include "resnet_parity.h"

#include <cmath>

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("cuda models: resnet256_6_2_1 matches the PyTorch goldens on the device") {
  if (!cuda_ready()) return;
  resnet_parity::check_resnet_parity("resnet256_6_2_1", resnet_parity::Scope::kFull, Device::CUDA);
}

TEST_CASE("cuda models: BERT forward, attention, gradients and the masked-LM head match the PyTorch goldens") {
  if (!cuda_ready()) return;
  bert_parity::check_bert_forward_parity(Device::CUDA);
  bert_parity::check_mlm_parity(Device::CUDA);
}

namespace {

// Ten Adam steps of cross-entropy on one fixed phantom-like batch; returns every loss and leaves the
// model trained. The same seed builds the same model on either device.
std::vector<double> ten_resnet_steps(Device device, nn::ResNet& model) {
  model.to(device);
  model.train();
  nn::Adam adam(nn::param_groups(model, 5e-4));
  Generator g(11);
  const Tensor x = rand({4, 1, 128, 128}, {.device = device}, &g);
  const Tensor y = from_vector({0, 1, 2, 3}, {4}, {.dtype = DType::Int64, .device = device});
  std::vector<double> losses;
  for (int step = 0; step < 10; ++step) {
    adam.zero_grad();
    Tensor loss = cross_entropy(model.forward(x).logits, y);
    loss.backward();
    adam.step();
    losses.push_back(loss.item());
  }
  return losses;
}

}  // namespace

TEST_CASE("cuda models: ten ResNet training steps on the device stay within tolerance of the CPU's") {
  if (!cuda_ready()) return;
  Generator g1(3), g2(3);
  auto cpu_model = nn::make_resnet("resnet128_6_2_1", 4, &g1);
  auto dev_model = nn::make_resnet("resnet128_6_2_1", 4, &g2);
  const std::vector<double> cpu = ten_resnet_steps(Device::CPU, *cpu_model);
  const std::vector<double> dev = ten_resnet_steps(Device::CUDA, *dev_model);
  // Float32 with train-mode BatchNorm on batch 4: the two devices sum in different orders, and the
  // differences grow over the steps; a wrong kernel shows at O(1e-1) at the first step.
  for (size_t i = 0; i < cpu.size(); ++i) {
    INFO("step ", i);
    CHECK(dev[i] == doctest::Approx(cpu[i]).epsilon(i < 3 ? 1e-4 : 2e-3));
  }
  // Parameters: the ten updates, compared as one vector. Adam moves every element by about lr per
  // step whatever its gradient's size, so an element whose gradient is within rounding of zero can
  // step the other way on the other device (|difference| up to 2 lr per step); the relative L2
  // difference of the updates stays small unless a kernel is wrong (then it is O(1)).
  Generator g3(3);
  auto start = nn::make_resnet("resnet128_6_2_1", 4, &g3);
  const auto initial = start->state_dict(), cpu_params = cpu_model->state_dict();
  double diff2 = 0, norm2 = 0;
  for (auto& [name, p] : dev_model->state_dict()) {
    if (!is_floating(p.dtype()) || name.find("running") != std::string::npos) continue;
    const Tensor d_cpu = (cpu_params.at(name) - initial.at(name)).to(DType::Float64);
    const Tensor d_dev = (p.to(Device::CPU) - initial.at(name)).to(DType::Float64);
    diff2 += sum(pow(d_dev - d_cpu, 2.0)).item();
    norm2 += sum(pow(d_cpu, 2.0)).item();
  }
  const double relative = std::sqrt(diff2 / norm2);
  MESSAGE("ten ResNet steps: |update(device) - update(CPU)| / |update(CPU)| = ", relative);
  CHECK(relative < 2e-2);
}
