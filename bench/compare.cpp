// compare.cpp — cxrlab's side of `make bench-compare` (bench/compare.py runs it and the PyTorch
// peer, bench/torch_peer.py, with the same rows, sizes and thread count, in one run):
//   cxr_bench_compare ROW [--iters N] [--warmup W] [--threads T]
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
               "usage: cxr_bench_compare sgemm1024|resnet_train|resnet_infer [--iters N] [--warmup W] [--threads T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string row = argv[1];
  int iters = 10, warmup = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--iters")
      iters = value;
    else if (flag == "--warmup")
      warmup = value;
    else if (flag == "--threads")
      cpu::set_num_threads(value);
    else
      return usage();
  }

  std::function<void()> step;
  double flops = 0;
  Generator gen(0);
  Tensor a, b, x, y;
  std::unique_ptr<nn::ResNet> model;
  std::unique_ptr<nn::Adam> adam;
  std::unique_ptr<nn::BertModel> bert;
  std::unique_ptr<nn::Linear> head;
  if (row == "sgemm1024") {
    a = randn({1024, 1024}, {}, &gen);
    b = randn({1024, 1024}, {}, &gen);
    flops = 2.0 * 1024 * 1024 * 1024;
    step = [&] { Tensor c = matmul(a, b); };
  } else if (row == "resnet_train" || row == "resnet_infer") {
    model = nn::make_resnet("resnet256_6_2_1", 14, &gen);
    x = randn({8, 1, 256, 256}, {}, &gen);
    y = randint(0, 14, {8}, {.dtype = DType::Int64}, &gen);
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
    bert->train();
    x = randint(0, 8000, {8, 320}, {.dtype = DType::Int64}, &gen);
    y = randint(0, 14, {8}, {.dtype = DType::Int64}, &gen);
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

  for (int i = 0; i < warmup; ++i) step();
  const double rss_before = rss_mib();
  const cpu::AllocatorStats before = cpu::allocator_stats();
  cpu::reset_peak_stats();
  std::vector<double> ms;
  const double cpu0 = process_cpu_ms();
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    step();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const double cpu_ms = (process_cpu_ms() - cpu0) / std::max(iters, 1);
  const cpu::AllocatorStats after = cpu::allocator_stats();
  std::printf(
      "{\"row\": \"%s\", \"impl\": \"cxrlab\", \"threads\": %d, \"isa\": \"%s\", \"kernels\": \"%s\", "
      "\"flops\": %.0f, \"rss_start_mib\": %.1f, \"peak_rss_mib\": %.1f, \"tensor_peak_mib\": %.1f, "
      "\"cache_misses_per_iter\": %.2f, \"cpu_ms_per_iter\": %.2f, \"ms\": [",
      row.c_str(), cpu::num_threads(), cpu::isa_name(cpu::cpu_isa()), cpu_kernels_name(cpu_kernels()), flops,
      rss_before, peak_rss_mib(), double(after.peak_in_use_bytes) / (1 << 20),
      double(after.system_allocations - before.system_allocations) / std::max(iters, 1), cpu_ms);
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.3f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
  return 0;
}
