// compare.cpp — cxrlab's side of `make bench-compare` (bench/compare.py runs it and the PyTorch
// peer, bench/torch_peer.py, with the same rows, sizes and thread count, in one run), and of the
// GPU timings of `make gpu-check` (tools/gpu_check.sh):
//   cxr_bench_compare ROW [--iters N] [--warmup W] [--threads T] [--device cpu|cuda]
//                         [--kernels hand|library] [--batch B] [--seq L] [--size N]
// ROW: sgemm1024 | resnet_train | resnet_infer | transformer_train. Prints one JSON object: the row, the per-iteration
// wall times (ms, after warm-up), the RSS before the first iteration and the process's peak RSS
// (MiB, getrusage), the CPU time per iteration of all threads together, the peak bytes held by tensors during the timed
// iterations and how many large blocks per iteration the caching allocator had to get from the system (0 in a steady
// state), threads, instruction set and kernel set.
//   sgemm1024:    C = A B, 1024^3 float32 (2.147 GFLOP per iteration)
//   resnet_train: resnet256_6_2_1, batch 8 of 1x256x256, 14 classes: zero_grad, forward (train
//                 mode), cross-entropy, backward, Adam step (lr 1e-3)
//   resnet_infer: the same model in eval mode under no_grad, forward only
//   transformer_train: the text encoder (nn/models/bert.h at its default size: 4 post-LN layers,
//                 hidden 256, 4 heads, FFN 1024, GELU, dropout 0.1, vocab 8000) on a batch of 8
//                 sequences of 320 random tokens; pooled output -> Linear(256, 14) -> cross-entropy,
//                 backward, Adam (lr 1e-4). About 58 GFLOP per step (19.5 forward).
// --batch and --seq change the batch (resnet 8, encoder 8) and the sequence length (320); --size the
// SGEMM's n (1024). On --device cuda every timed iteration ends with a device synchronize, so the
// wall time is the step's; --kernels picks the hand-written or the cuBLAS/cuDNN kernels, and the
// JSON adds the device, its allocator's peak and its cudaMalloc calls per iteration.
#include <sys/resource.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "nn/models/bert.h"
#include "nn/models/resnet.h"
#include "nn/optim.h"
#include "tensor/allocator.h"
#include "tensor/cpu/runtime.h"
#include "ops/ops.h"
#include "tensor/random.h"
#include "cuda/runtime.h"

using namespace cxr;

namespace {

double rss_mib() {  // current resident set, from /proc/self/statm (pages)
  std::ifstream f("/proc/self/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return double(resident) * 4096.0 / (1024.0 * 1024.0);
}
double process_cpu_ms() {  // CPU time of all threads of the process
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // KiB on Linux
}

int usage() {
  std::fprintf(stderr,
               "usage: cxr_bench_compare sgemm1024|resnet_train|resnet_infer|transformer_train [--iters N] [--warmup W]\n"
               "       [--threads T] [--device cpu|cuda] [--kernels hand|library] [--batch B] [--seq L] [--size N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string row = argv[1];
  int iters = 10, warmup = 3;
  int64_t batch = 8, seq = 320, size = 1024;
  Device device = Device::CPU;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], text = argv[i + 1];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--iters")
      iters = value;
    else if (flag == "--warmup")
      warmup = value;
    else if (flag == "--threads")
      cpu::set_num_threads(value);
    else if (flag == "--batch")
      batch = value;
    else if (flag == "--seq")
      seq = value;
    else if (flag == "--size")
      size = value;
    else if (flag == "--device" && (text == "cpu" || text == "cuda"))
      device = text == "cuda" ? Device::CUDA : Device::CPU;
    else if (flag == "--kernels" && (text == "hand" || text == "library"))
      set_cuda_kernels(text == "library" ? CudaKernels::Library : CudaKernels::Hand);
    else
      return usage();
  }
  if (device == Device::CUDA) {
    try {
      cuda::require("cxr_bench_compare");
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }
  const TensorOptions on{.device = device};

  std::function<void()> step;
  double flops = 0;
  Generator gen(0);
  Tensor a, b, x, y;
  std::unique_ptr<nn::ResNet> model;
  std::unique_ptr<nn::Adam> adam;
  std::unique_ptr<nn::BertModel> bert;
  std::unique_ptr<nn::Linear> head;
  if (row == "sgemm1024") {
    a = randn({size, size}, on, &gen);
    b = randn({size, size}, on, &gen);
    flops = 2.0 * double(size) * double(size) * double(size);
    step = [&] { Tensor c = matmul(a, b); };
  } else if (row == "resnet_train" || row == "resnet_infer") {
    model = nn::make_resnet("resnet256_6_2_1", 14, &gen);
    model->to(device);
    x = randn({batch, 1, 256, 256}, on, &gen);
    y = randint(0, 14, {batch}, {.dtype = DType::Int64, .device = device}, &gen);
    if (row == "resnet_train") {
      model->train();
      adam = std::make_unique<nn::Adam>(nn::param_groups(*model, 1e-3));
      step = [&] {
        adam->zero_grad();
        Tensor loss = cross_entropy(model->forward(x).logits, y);
        loss.backward();
        adam->step();
      };
    } else {
      model->eval();
      step = [&] {
        NoGradGuard no_grad;
        Tensor logits = model->forward(x).logits;
      };
    }
  } else if (row == "transformer_train") {
    bert = std::make_unique<nn::BertModel>(nn::BertConfig{}, &gen);
    head = std::make_unique<nn::Linear>(256, 14, true, &gen);
    bert->to(device);
    head->to(device);
    bert->train();
    x = randint(0, 8000, {batch, seq}, {.dtype = DType::Int64, .device = device}, &gen);
    y = randint(0, 14, {batch}, {.dtype = DType::Int64, .device = device}, &gen);
    std::vector<nn::ParamGroup> groups = nn::param_groups(*bert, 1e-4);
    for (auto& [name, p] : head->named_parameters()) groups[0].params.emplace_back("head." + name, p);
    adam = std::make_unique<nn::Adam>(groups);
    step = [&] {
      adam->zero_grad();
      Tensor loss = cross_entropy(head->forward(bert->forward(x).pooled_output), y);
      loss.backward();
      adam->step();
    };
  } else {
    return usage();
  }

  const bool on_cuda = device == Device::CUDA;
  for (int i = 0; i < warmup; ++i) step();
  if (on_cuda) cuda::synchronize();
  const double rss_before = rss_mib();
  const cpu::AllocatorStats before = cpu::allocator_stats();
  const cuda::AllocatorStats device_before = cuda::allocator_stats();
  cpu::reset_peak_stats();
  cuda::reset_peak_stats();
  std::vector<double> ms;
  const double cpu0 = process_cpu_ms();
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    if (on_cuda) cuda::synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu_ms = (process_cpu_ms() - cpu0) / std::max(iters, 1);
  const cpu::AllocatorStats after = cpu::allocator_stats();
  const cuda::AllocatorStats device_after = cuda::allocator_stats();
  if (on_cuda)
    std::printf("{\"device\": \"cuda\", \"gpu\": \"%s\", \"cuda_kernels\": \"%s\", \"batch\": %lld, \"seq\": %lld, "
                "\"size\": %lld, \"device_peak_mib\": %.1f, \"cuda_mallocs_per_iter\": %.2f, ",
                cuda::status().c_str(), cuda_kernels_name(cuda_kernels()), (long long)batch, (long long)seq,
                (long long)size, double(device_after.peak_in_use_bytes) / (1 << 20),
                double(device_after.device_allocations - device_before.device_allocations) / std::max(iters, 1));
  else
    std::printf("{\"device\": \"cpu\", \"batch\": %lld, \"seq\": %lld, \"size\": %lld, ", (long long)batch,
                (long long)seq, (long long)size);
  std::printf(
      "\"row\": \"%s\", \"impl\": \"cxrlab\", \"threads\": %d, \"isa\": \"%s\", \"kernels\": \"%s\", "
      "\"flops\": %.0f, \"rss_start_mib\": %.1f, \"peak_rss_mib\": %.1f, \"tensor_peak_mib\": %.1f, "
      "\"cache_misses_per_iter\": %.2f, \"cpu_ms_per_iter\": %.2f, \"ms\": [",
      row.c_str(), cpu::num_threads(), cpu::isa_name(cpu::cpu_isa()), cpu_kernels_name(cpu_kernels()), flops,
      rss_before, peak_rss_mib(), double(after.peak_in_use_bytes) / (1 << 20),
      double(after.system_allocations - before.system_allocations) / std::max(iters, 1), cpu_ms);
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.3f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
  return 0;
}
