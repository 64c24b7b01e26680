// bnstats.cpp — the batch-norm statistics family of cxr-kernels: the training statistics of every
// BatchNorm of resnet256_6_2_1 at batch 64 (bn1 at 8 x 256^2, then layer1..layer6 at 8 x 128^2 ..
// 192 x 4^2). No library yardstick: cuDNN's batch-norm forward computes the statistics fused with
// the normalization (and not alone), so the versions are compared with each other. The output is
// (2, C): mean, then the biased variance; the reference the CPU's float64 of the same float32
// inputs. dims = {N, C, HW}. Inputs: x = 2 N(0, 1) + 1.
#include <algorithm>
#include <cmath>
#include <string>

#include "bench/cuda/harness.h"
#include "cuda/kernels/bnstats/bnstats.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::bench {

// Worst-case bounds (u = 2^-24) from each version's longest chain of float32 roundings L, for
// |x| <= 12 (the generator's 5.5 sigma; the tests check it): a sum or a Welford mean of L steps is
// within ~3 L u of max |x| absolutely (Welford's update rounds the mean, d / n and the add), M2's
// relative error ~3 L u too (the data's mean/std ratio is small: no cancellation to amplify it):
//   v1 (double): only the final rounding: rtol 2u, and the double sums' count x 2^-53 x 12;
//   v2: a thread's count/256 additions then the 8 tree levels: L = count/256 + 8;
//   v3, v4: count / (parts x 256) Welford steps, 8 tree (or 5 shuffle + 8) levels, the fold of
//       parts: L = count / (parts x 256) + 16 + parts.
// atol 36 (L + 8) u (the mean), rtol 3 (L + 8) u (the variance). A dropped element moves the mean
// by ~|x| / count, which at the quick shapes is far above that; at bn1's 4.2M a single element is
// below float32's resolution of the sum and no version can be held to it.
Tolerance bn_stats_tolerance(const cuda::KernelVersion& v, int64_t N, int64_t C, int64_t HW) {
  const double u = 0x1p-24, count = double(std::max<int64_t>(N * HW, 1));
  if (v.number == 1) return {count * 0x1p-53 * 12, 2 * u};
  const int parts = cuda::bn_stats_parts(N * HW, C);
  const double L = v.number == 2 ? std::ceil(count / 256) + 8 : std::ceil(count / (parts * 256.0)) + 16 + parts;
  return {36 * (L + 8) * u, 3 * (L + 8) * u};
}

BnStatsProblemData bn_stats_problem_data(int64_t N, int64_t C, int64_t HW, uint64_t seed) {
  BnStatsProblemData d;
  Generator g(seed);
  d.x = randn({N, C, HW}, {}, &g) * 2.0 + 1.0;
  const Tensor x = d.x.to(DType::Float64);
  const double count = double(N * HW);
  const Tensor mean = sum(x, {0, 2}, true) / count;
  const Tensor var = sum((x - mean) * (x - mean), {0, 2}, true) / count;
  d.reference = stack({mean.reshape({C}), var.reshape({C})});
  return d;
}

namespace {

class BnStatsCase : public Case {
 public:
  explicit BnStatsCase(const Problem& p) : N_(p.dims[0]), C_(p.dims[1]), HW_(p.dims[2]) {
    const BnStatsProblemData d = bn_stats_problem_data(N_, C_, HW_, uint64_t(N_ * 131 + C_ * 7 + HW_));
    x_ = d.x.to(Device::CUDA);
    out_ = empty({2, C_}, {.device = Device::CUDA});
    reference_ = d.reference;
  }
  void run(int version) override {
    cuda::BnStatsArgs a;
    a.N = N_, a.C = C_, a.HW = HW_;
    a.x = x_.data<float>(), a.mean = out_.data<float>(), a.var = out_.data<float>() + C_;
    cuda::bn_stats(version, a);
  }
  Tensor output() const override { return out_; }
  const Tensor& reference() const override { return reference_; }

 private:
  int64_t N_, C_, HW_;
  Tensor x_, out_, reference_;
};

Problem bn_stats_problem(const std::string& label, int64_t N, int64_t C, int64_t side_or_hw, bool square) {
  const int64_t HW = square ? side_or_hw * side_or_hw : side_or_hw;
  Problem p;
  p.label = label + " " + std::to_string(N) + "x" + std::to_string(C) + "x" +
            (square ? std::to_string(side_or_hw) + "^2" : std::to_string(HW));
  p.bytes = 4.0 * double(N) * double(C) * double(HW) + 8.0 * double(C);
  p.dims = {N, C, HW};
  return p;
}

std::vector<Problem> bn_stats_problems(bool quick) {
  if (quick)  // odd HW (scalar walks), float4, parts > 1, one channel, BatchNorm1d (HW 1)
    return {bn_stats_problem("odd", 3, 5, 63, false),     bn_stats_problem("float4", 2, 3, 64, false),
            bn_stats_problem("parts", 7, 2, 4096, false), bn_stats_problem("parts, float4 ragged", 1, 4, 20004, false),
            bn_stats_problem("1d", 37, 6, 1, false),      bn_stats_problem("one channel", 16, 1, 9, false)};
  // resnet256_6_2_1 at batch 64: bn1 after conv1 (8 @ 256^2), then each layer's BNs.
  constexpr int64_t kBatch = 64;
  std::vector<Problem> out = {bn_stats_problem("resnet256 bn1", kBatch, 8, 256, true)};
  const int64_t channels[] = {8, 16, 32, 64, 128, 192};
  for (int k = 0; k < 6; ++k)
    out.push_back(bn_stats_problem("resnet256 layer" + std::to_string(k + 1), kBatch, channels[k], 128 >> k, true));
  return out;
}

const FamilyRegistration bn_stats_family({"bn_stats",
                                          "",
                                          &cuda::bn_stats_ladder(),
                                          bn_stats_problems,
                                          [](const Problem& p) { return std::make_unique<BnStatsCase>(p); },
                                          [](const cuda::KernelVersion& v, const Problem& p) {
                                            return bn_stats_tolerance(v, p.dims[0], p.dims[1], p.dims[2]);
                                          },
                                          {},
                                          nullptr});

}  // namespace
}  // namespace cxr::bench
