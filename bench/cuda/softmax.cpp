// softmax.cpp — the softmax family of cxr-kernels: the text encoder's attention softmax, rows =
// batch x heads x queries, cols = the sequence (the 4-layer encoder: hidden 256, 4 heads of 64, at
// batch 32 and sequence 320 and 512), fused with the scale 1/sqrt(64) and the (B, 1, 1, L)
// additive padding mask as BertSelfAttention computes it, and plain (the backend's SoftmaxFn),
// and one log_softmax; against cuDNN's cudnnSoftmaxForward on the same rows (after the
// scale-and-mask pass on a fused problem). The reference is the CPU's float64 softmax of the same
// float32 inputs. dims = {rows, cols, log, rows_per_mask (0: not fused)}.
// Inputs: x uniform in [-4, 4) (attention scores' range); mask rows 0 over the first `valid`
// columns and -10000 after (the encoder's padding), valid in [1, cols].
#include <algorithm>
#include <cmath>
#include <string>

#include "bench/cuda/harness.h"
#include "cuda/kernels/softmax/softmax.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::bench {

// Worst-case bounds of a float32 softmax against the float64 one of the same inputs (u = 2^-24;
// every version: float32 max, exp, sums in a fixed order, one reciprocal or log per row):
//   the sum S of cols terms e^(t - m) in [1, cols]: each addition rounds by <= u of a partial sum
//     <= S, so <= (cols - 1) u S over a sequential row (v1; the tree versions less), each term
//     carries expf's <= 2 ulp (4u relative), and online rescales (v4) and the tree's combines add
//     <= ~6u per step, at most cols/32 + 5 steps: S is within (cols + 40) u relative.
//   softmax p = e^(t - m) (1/S): exp 4u, the reciprocal and the multiply u each: rtol (cols + 48) u.
//     The rounding of t - m (u |t - m|) changes p by p |t - m| u <= u/e absolutely (y e^-y <= 1/e):
//     atol u.
//   log_softmax y = (t - m) - log S: S's error is absolute in log S ((cols + 40) u), logf <= 1 ulp
//     of log S <= ln cols, the subtraction t - m and the final rounding u (|y| + ln cols) each:
//     atol (cols + 48 + 3 ln cols) u, rtol 4u.
//   fused: t = scale x + mask rounds (by <= u |t|; mask elements of -10000 give p = 0 either way),
//     moving p by up to 2u max|t| relative: + 4 max_abs_logit u on the rtol of p and the atol of y.
// A wrong element (a dropped or doubled term, a wrong max) is off by >= ~1/cols relative: 2e-3 at
// cols 512, against an rtol of 3.4e-5.
Tolerance softmax_tolerance(bool log, int64_t cols, double max_abs_logit) {
  const double u = 0x1p-24, n = double(std::max<int64_t>(cols, 1));
  if (log) return {(n + 48 + 3 * std::log(n) + 4 * max_abs_logit) * u, 4 * u};
  return {u, (n + 48 + 4 * max_abs_logit) * u};
}

// The inputs of a softmax problem (CPU, float32) and its float64 reference.
SoftmaxProblemData softmax_problem_data(int64_t rows, int64_t cols, bool log, int64_t rows_per_mask, float scale,
                                        uint64_t seed) {
  SoftmaxProblemData d;
  Generator g(seed);
  d.x = rand({rows, cols}, {}, &g) * 8.0 - 4.0;
  Tensor t = d.x.to(DType::Float64);
  if (rows_per_mask > 0) {
    CXR_CHECK(rows % rows_per_mask == 0, "softmax problem: rows ", rows, " not a multiple of rows_per_mask ",
              rows_per_mask);
    const int64_t mask_rows = rows / rows_per_mask;
    std::vector<double> mask(size_t(mask_rows * cols), 0.0);
    const Tensor valid = randint(1, cols + 1, {mask_rows}, {.dtype = DType::Int64}, &g);
    for (int64_t b = 0; b < mask_rows; ++b)
      for (int64_t c = valid.data<int64_t>()[b]; c < cols; ++c) mask[size_t(b * cols + c)] = -10000.0;
    d.mask = from_vector(mask, {mask_rows, cols});
    t = (t.view({mask_rows, rows_per_mask, cols}) * double(scale) +
         d.mask.to(DType::Float64).view({mask_rows, 1, cols}))
            .reshape({rows, cols});
    d.max_abs_logit = 4.0 * std::abs(double(scale));
  }
  d.reference = log ? log_softmax(t, -1) : softmax(t, -1);
  return d;
}

namespace {

constexpr float kAttentionScale = 0.125f;  // 1 / sqrt(head size 64)

class SoftmaxCase : public Case {
 public:
  explicit SoftmaxCase(const Problem& p)
      : rows_(p.dims[0]), cols_(p.dims[1]), log_(p.dims[2] != 0), rows_per_mask_(p.dims[3]) {
    SoftmaxProblemData d = softmax_problem_data(rows_, cols_, log_, rows_per_mask_, kAttentionScale,
                                                uint64_t(rows_ * 7919 + cols_ * 31 + p.dims[2]));
    x_ = d.x.to(Device::CUDA);
    if (d.mask.defined()) mask_ = d.mask.to(Device::CUDA);
    out_ = empty({rows_, cols_}, {.device = Device::CUDA});
    reference_ = d.reference;
  }
  void run(int version) override {
    cuda::SoftmaxArgs a;
    a.rows = rows_, a.cols = cols_, a.log = log_;
    a.x = x_.data<float>(), a.out = out_.data<float>();
    if (rows_per_mask_ > 0) {
      a.scale = kAttentionScale;
      a.mask = mask_.data<float>();
      a.rows_per_mask = rows_per_mask_;
    }
    if (version == kLibrary) return cuda::cudnn_softmax(a);
    cuda::softmax_rows(version, a);
  }
  Tensor output() const override { return out_; }
  const Tensor& reference() const override { return reference_; }

 private:
  int64_t rows_, cols_;
  bool log_;
  int64_t rows_per_mask_;
  Tensor x_, mask_, out_, reference_;
};

Problem softmax_problem(const std::string& label, int64_t rows, int64_t cols, bool log, int64_t rows_per_mask) {
  Problem p;
  p.label = label + " " + std::to_string(rows) + "x" + std::to_string(cols);
  const double mask_bytes = rows_per_mask > 0 ? 4.0 * double(rows / rows_per_mask) * double(cols) : 0.0;
  p.bytes = 8.0 * double(rows) * double(cols) + mask_bytes;  // x read once, y written once
  p.dims = {rows, cols, log ? 1 : 0, rows_per_mask};
  return p;
}

std::vector<Problem> softmax_problems(bool quick) {
  if (quick)  // partial warps and float4 chunks, register and streaming paths, scalar and float4 loads
    return {softmax_problem("odd", 37, 5, false, 0),         softmax_problem("odd log", 19, 333, true, 0),
            softmax_problem("odd fused", 24, 100, false, 8), softmax_problem("odd fused log", 6, 75, true, 3),
            softmax_problem("long", 3, 1500, false, 0),      softmax_problem("long fused", 4, 1100, false, 2)};
  std::vector<Problem> out;
  constexpr int64_t kBatch = 32, kHeads = 4;
  for (int64_t seq : {320, 512}) {
    const int64_t rows = kBatch * kHeads * seq;
    const std::string s = " seq " + std::to_string(seq);
    out.push_back(softmax_problem("attention scale+mask" + s, rows, seq, false, kHeads * seq));
    out.push_back(softmax_problem("attention plain" + s, rows, seq, false, 0));
  }
  out.push_back(softmax_problem("log_softmax seq 512", kBatch * kHeads * 512, 512, true, 0));
  return out;
}

const FamilyRegistration softmax_family({"softmax",
                                         "cuDNN",
                                         &cuda::softmax_ladder(),
                                         softmax_problems,
                                         [](const Problem& p) { return std::make_unique<SoftmaxCase>(p); },
                                         [](const cuda::KernelVersion&, const Problem& p) {
                                           return softmax_tolerance(p.dims[2] != 0, p.dims[1],
                                                                    p.dims[3] > 0 ? 4.0 * kAttentionScale : 0.0);
                                         },
                                         {},
                                         nullptr});

}  // namespace
}  // namespace cxr::bench
