// test_cuda_nn.cpp — modules, optimizers and checkpoints on the CUDA device: Module::to and
// Optimizer::to keep identities, training on the device matches the CPU, checkpoints save from and
// load onto the device, a steady-state step never calls cudaMalloc, out-of-memory names the op and
// the bytes, and without a device require() says why.
#include <filesystem>

#include "cuda_testing.h"
#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "tensor/file_io.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

std::shared_ptr<nn::Sequential> small_net(uint64_t seed) {
  Generator g(seed);
  auto net = std::make_shared<nn::Sequential>();
  net->push_back(std::make_shared<nn::Linear>(6, 16, true, &g));
  net->push_back(std::make_shared<nn::Tanh>());
  net->push_back(std::make_shared<nn::Linear>(16, 3, true, &g));
  return net;
}

// Four Adam steps of a squared-error loss on fixed data; returns the losses.
std::vector<double> train_steps(nn::Sequential& net, nn::Adam& adam, Device device, int steps) {
  Generator g(99);
  const Tensor x = randn({8, 6}, {.device = device}, &g), y = randn({8, 3}, {.device = device}, &g);
  std::vector<double> losses;
  for (int s = 0; s < steps; ++s) {
    adam.zero_grad();
    Tensor loss = mean(pow(net.forward(x) - y, 2.0));
    loss.backward();
    adam.step();
    losses.push_back(loss.item());
  }
  return losses;
}

}  // namespace

TEST_CASE("cuda: without a device, require() names the reason and the caller") {
  if (cuda::available()) {
    skip_test("a CUDA device is present: the no-device message cannot be produced here");
    return;
  }
  CHECK_FALSE(cuda::status().empty());
  CHECK_THROWS_WITH_AS(cuda::require("cxr train"), doctest::Contains("cxr train: --device cuda needs an NVIDIA GPU"),
                       Error);
  CHECK_THROWS_AS(zeros({2}, {.device = Device::CUDA}), Error);
}

TEST_CASE("cuda nn: Module::to and Optimizer::to keep identities, training on the device matches the CPU") {
  if (!cuda_ready()) return;
  auto cpu_net = small_net(1), dev_net = small_net(1);
  nn::Adam cpu_adam(nn::param_groups(*cpu_net, 1e-2)), dev_adam(nn::param_groups(*dev_net, 1e-2));
  // Two steps on the CPU for both, then one of them moves (parameters, gradients, Adam state).
  const std::vector<double> a = train_steps(*cpu_net, cpu_adam, Device::CPU, 2);
  const std::vector<double> b = train_steps(*dev_net, dev_adam, Device::CPU, 2);
  CHECK(a == b);
  const Tensor handle = dev_net->parameters()[0];
  dev_net->to(Device::CUDA);
  dev_adam.to(Device::CUDA);
  CHECK(handle.device() == Device::CUDA);  // the optimizer's handle is the module's tensor
  CHECK(dev_net->device() == Device::CUDA);
  for (auto& [key, t] : dev_adam.state_dict())
    if (key != "step") CHECK_MESSAGE(t.device() == Device::CUDA, key);
  const std::vector<double> cpu_losses = train_steps(*cpu_net, cpu_adam, Device::CPU, 4);
  const std::vector<double> dev_losses = train_steps(*dev_net, dev_adam, Device::CUDA, 4);
  for (size_t i = 0; i < cpu_losses.size(); ++i) CHECK(dev_losses[i] == doctest::Approx(cpu_losses[i]).epsilon(1e-5));
  for (auto& [name, p] : cpu_net->named_parameters()) {
    Tensor q = dev_net->state_dict().at(name);
    check_close(q, p, {1e-4, 1e-6}, "parameter " + name + " after 6 Adam steps");
  }
}

TEST_CASE("cuda nn: checkpoints save from the device byte-identical to the CPU's and load onto it") {
  if (!cuda_ready()) return;
  auto cpu_net = small_net(2), dev_net = small_net(2);
  nn::BatchNorm1d bn_cpu(5), bn_dev(5);
  dev_net->to(Device::CUDA);
  bn_dev.to(Device::CUDA);
  const std::string a = temp_path("cpu.safetensors"), b = temp_path("dev.safetensors");
  nn::save_checkpoint(*cpu_net, a);
  nn::save_checkpoint(*dev_net, b);
  CHECK(read_file(a) == read_file(b));
  // Load a different model's weights onto the device module; forward agrees with the CPU.
  auto other = small_net(3);
  nn::save_checkpoint(*other, a);
  nn::load_checkpoint(*dev_net, a);
  CHECK(dev_net->device() == Device::CUDA);
  const Tensor x = random_input({4, 6}, DType::Float32, 5);
  NoGradGuard no_grad;
  check_close(dev_net->forward(x.to(Device::CUDA)), other->forward(x), {1e-5, 1e-6}, "forward after loading onto the device");
  // Buffers too (running statistics, the int64 batch counter).
  nn::save_checkpoint(bn_cpu, a);
  nn::save_checkpoint(bn_dev, b);
  CHECK(read_file(a) == read_file(b));
  std::filesystem::remove(a);
  std::filesystem::remove(b);
}

TEST_CASE("cuda nn: optimizer state saves from the device and loads onto it") {
  if (!cuda_ready()) return;
  auto net = small_net(4);
  net->to(Device::CUDA);
  nn::Adam adam(nn::param_groups(*net, 1e-2));
  train_steps(*net, adam, Device::CUDA, 2);
  const std::string path = temp_path("adam.safetensors");
  adam.save(path);
  auto net2 = small_net(4);
  net2->to(Device::CUDA);
  nn::Adam adam2(nn::param_groups(*net2, 1e-2));
  adam2.load(path);
  CHECK(adam2.steps() == 2);
  for (auto& [key, t] : adam2.state_dict()) {
    if (key == "step") continue;
    CHECK_MESSAGE(t.device() == Device::CUDA, key);
    CHECK(bitwise_equal(t, adam.state_dict().at(key)));
  }
  std::filesystem::remove(path);
}

TEST_CASE("cuda nn: a steady-state training step never calls cudaMalloc") {
  if (!cuda_ready()) return;
  auto net = small_net(5);
  net->to(Device::CUDA);
  nn::Adam adam(nn::param_groups(*net, 1e-2));
  train_steps(*net, adam, Device::CUDA, 3);  // warm the cache
  const int64_t before = cuda::allocator_stats().device_allocations;
  const int64_t hits_before = cuda::allocator_stats().cache_hits;
  train_steps(*net, adam, Device::CUDA, 3);
  CHECK(cuda::allocator_stats().device_allocations == before);
  CHECK(cuda::allocator_stats().cache_hits > hits_before);
}

TEST_CASE("cuda: out of device memory is an error naming the op and the bytes") {
  if (!cuda_ready()) return;
  const Tensor one = zeros({1}, {.device = Device::CUDA});
  const int64_t n = int64_t(1) << 38;  // 1 TiB of float32: more than any device holds
  CHECK_THROWS_WITH_AS(one.expand({n}).contiguous(),
                       doctest::Contains("clone: CUDA out of memory: asked for 1099511627776 bytes"), Error);
  // The failed allocation left the allocator usable.
  CHECK(sum(ones({1000}, {.device = Device::CUDA})).item() == 1000);
}
