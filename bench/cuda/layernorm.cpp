// layernorm.cpp — the layer-norm family of cxr-kernels: the forward over the text encoder's hidden
// 256 at batch 32 x 320 and 32 x 512 tokens (its LayerNorms: embeddings and two per layer), a
// BERT-base width (768) and long rows (4096) past the registers of v4. No library yardstick: cuDNN
// has no plain layer-norm call (its graph API's normalization is not one call), so the versions
// are compared with each other. The reference is the CPU's float64 layer norm of the same float32
// inputs; the bench checks y, the tests also the saved mean and rstd.
// dims = {rows, cols, affine}. Inputs: x = 2 N(0, 1) + 1, w = 1 + 0.1 N(0, 1), b = 0.1 N(0, 1).
#include <algorithm>
#include <cmath>
#include <string>

#include "bench/cuda/harness.h"
#include "cuda/kernels/layernorm/layernorm.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::bench {

// Worst-case bounds of the float32 versions against float64 (u = 2^-24, D = cols), for inputs
// with max |x - mean| / std * max |w| <= 12 and max |x| <= 12 (the generator's: 5.5 sigma of
// N(1, 2^2) and w within 6 sigma of 1; the tests check it of their data):
//   mean: the sum of D terms rounds by <= (D - 1) u max|x| D (sequential; trees less), the
//     division u: atol 12 (D + 2) u.
//   rstd: the squared deviations from a mean off by dm sum to ss + D dm^2 (the first order
//     cancels: sum (x - mean) = 0), each term and the sum round (D + 3) u, the division, + eps,
//     sqrt and 1/x a few u more; Welford's M2 (v3) within about twice that: rtol (D + 8) u.
//   y = (x - mean) rstd w + b: dm rstd <= D u * 12 over |w| and |xhat| (rstd's error) <= 12 (D/2 + 4) u,
//     twice for Welford; the affine's own roundings 2u |y|: atol 12 (2 D + 8) u, rtol 2u.
// A dropped element moves the mean by ~|x|/D and y by ~|x| / (D std): 4e-3 at D = 256, against
// an atol of 1.8e-4.
LayerNormTolerances layer_norm_tolerances(int64_t cols) {
  const double u = 0x1p-24, d = double(std::max<int64_t>(cols, 1));
  return {{12 * (2 * d + 8) * u, 2 * u}, {12 * (d + 2) * u, 0}, {0, (d + 8) * u}};
}

LayerNormProblemData layer_norm_problem_data(int64_t rows, int64_t cols, bool affine, uint64_t seed) {
  LayerNormProblemData p;
  Generator g(seed);
  p.x = randn({rows, cols}, {}, &g) * 2.0 + 1.0;
  if (affine) {
    p.weight = randn({cols}, {}, &g) * 0.1 + 1.0;
    p.bias = randn({cols}, {}, &g) * 0.1;
  }
  const Tensor x = p.x.to(DType::Float64);
  const Tensor mean = sum(x, {1}, true) / double(cols);
  const Tensor var = sum((x - mean) * (x - mean), {1}, true) / double(cols);
  const Tensor rstd = 1.0 / sqrt(var + double(p.eps));
  Tensor y = (x - mean) * rstd;
  if (affine) y = y * p.weight.to(DType::Float64) + p.bias.to(DType::Float64);
  p.y = y;
  p.mean = mean.reshape({rows});
  p.rstd = rstd.reshape({rows});
  return p;
}

namespace {

class LayerNormCase : public Case {
 public:
  explicit LayerNormCase(const Problem& p) : rows_(p.dims[0]), cols_(p.dims[1]) {
    const LayerNormProblemData d =
        layer_norm_problem_data(rows_, cols_, p.dims[2] != 0, uint64_t(rows_ * 1009 + cols_ * 17 + p.dims[2]));
    eps_ = d.eps;
    x_ = d.x.to(Device::CUDA);
    if (d.weight.defined()) weight_ = d.weight.to(Device::CUDA), bias_ = d.bias.to(Device::CUDA);
    out_ = empty({rows_, cols_}, {.device = Device::CUDA});
    mean_ = empty({rows_}, {.device = Device::CUDA});
    rstd_ = empty({rows_}, {.device = Device::CUDA});
    reference_ = d.y;
  }
  void run(int version) override {
    cuda::LayerNormArgs a;
    a.rows = rows_, a.cols = cols_, a.eps = eps_;
    a.x = x_.data<float>(), a.out = out_.data<float>();
    if (weight_.defined()) a.weight = weight_.data<float>(), a.bias = bias_.data<float>();
    a.save_mean = mean_.data<float>(), a.save_rstd = rstd_.data<float>();
    cuda::layer_norm_rows(version, a);
  }
  Tensor output() const override { return out_; }
  const Tensor& reference() const override { return reference_; }

 private:
  int64_t rows_, cols_;
  float eps_ = 1e-5f;
  Tensor x_, weight_, bias_, out_, mean_, rstd_, reference_;
};

Problem layer_norm_problem(const std::string& label, int64_t rows, int64_t cols, bool affine) {
  Problem p;
  p.label = label + " " + std::to_string(rows) + "x" + std::to_string(cols);
  p.bytes = 8.0 * double(rows) * double(cols) + (affine ? 8.0 * double(cols) : 0.0) + 8.0 * double(rows);
  p.dims = {rows, cols, affine ? 1 : 0};
  return p;
}

std::vector<Problem> layer_norm_problems(bool quick) {
  if (quick)
    return {layer_norm_problem("odd", 37, 5, true), layer_norm_problem("odd no affine", 19, 333, false),
            layer_norm_problem("hidden 256", 7, 256, true), layer_norm_problem("long", 3, 1500, true),
            layer_norm_problem("registers full", 5, 1024, true)};
  return {layer_norm_problem("encoder hidden 256, 32x320 tokens", 32 * 320, 256, true),
          layer_norm_problem("encoder hidden 256, 32x512 tokens", 32 * 512, 256, true),
          layer_norm_problem("hidden 768, 32x512 tokens", 32 * 512, 768, true),
          layer_norm_problem("long rows", 1024, 4096, true)};
}

const FamilyRegistration layer_norm_family({"layer_norm",
                                            "",
                                            &cuda::layer_norm_ladder(),
                                            layer_norm_problems,
                                            [](const Problem& p) { return std::make_unique<LayerNormCase>(p); },
                                            [](const cuda::KernelVersion&, const Problem& p) {
                                              return layer_norm_tolerances(p.dims[1]).y;
                                            },
                                            {},
                                            nullptr});

}  // namespace
}  // namespace cxr::bench
