// harness.h — the kernel study's bench, cxr-kernels (bench/cuda/, docs/KERNELS.md), in the style of
// llm.c's dev/cuda: for every op family, every problem shape and every version of its ladder
// (cuda/kernels/versions.h), first CHECK the version against the CPU reference
// (|out - ref| <= atol + rtol |ref|, non-finite reference values skipped and counted; a version
// that fails is not timed), then TIME it with CUDA events after an L2 flush (the median of >= 20
// runs), next to the library (cuBLAS/cuDNN) on the same problem in the same run.
//
// A family registers itself from its own file (bench/cuda/<op>.cpp) with a FamilyRegistration.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cuda/kernels/versions.h"
#include "tensor/tensor.h"

namespace cxr::bench {

// The library's slot among the versions of a Case::run (more library slots, when a family has
// them, are negative: Family::more_libraries).
inline constexpr int kLibrary = 0;

struct Problem {
  std::string label;   // e.g. "4096x4096x4096", "layer3 conv 3x3 16->32 at 64x64, batch 64"
  double flops = 0;    // counted, for GFLOP/s (0: a memory-bound op, reported in GB/s)
  double bytes = 0;    // the minimum bytes moved, for GB/s
  std::vector<int64_t> dims;  // the shape numbers the family's make() reads
};

// One problem with its inputs on the device and its CPU reference, ready to run any version.
class Case {
 public:
  virtual ~Case() = default;
  virtual void run(int version) = 0;       // writes output(); kLibrary runs the library
  virtual Tensor output() const = 0;       // the device result of the last run
  virtual const Tensor& reference() const = 0;  // the CPU reference result
};

struct Tolerance {
  double atol = 1e-5, rtol = 1e-4;
};

struct Family {
  std::string op;                      // the ladder's op
  std::string library;                 // "cuBLAS", "cuDNN", or "" when none is compared
  const cuda::KernelLadder* ladder = nullptr;
  std::function<std::vector<Problem>(bool quick)> problems;  // quick: small shapes for checks only
  std::function<std::unique_ptr<Case>(const Problem&)> make;
  std::function<Tolerance(const cuda::KernelVersion&, const Problem&)> tolerance;
  // Library rows besides kLibrary (another precision, say), and the slot each version's "x lib"
  // is measured against (null: kLibrary for every version). SGEMM: cuBLAS in TF32 and in BF16,
  // the yardsticks of the tensor-core versions.
  struct Library {
    int slot;  // < 0, passed to Case::run
    std::string name;
    bool exact_fp32 = true;
  };
  std::vector<Library> more_libraries;
  std::function<int(const cuda::KernelVersion&)> library_for;
  // For a family without a library (library ""): the version of its own ladder that "x lib" is
  // measured against instead (0: none), timed in the same run. Attention: v1, the unfused form.
  int baseline_version = 0;
  // When set, cxr-kernels also prints, per group of problems (e.g. a pass) and per version, the sum
  // of their median times and the library's sum over it (conv2d: each pass summed over the layers).
  std::function<std::string(const Problem&)> sum_group = nullptr;
};

std::vector<Family>& families();

struct FamilyRegistration {
  explicit FamilyRegistration(Family f) { families().push_back(std::move(f)); }
};

// The versions of `ladder` that cxr-kernels runs: `requested` (its --version flags) when given,
// else the one CXR_CUDA_VERSION_<OP> names when set, else all. Throws naming the op and listing its
// versions for a number it lacks (or a bad value of the variable).
std::vector<int> versions_to_run(const cuda::KernelLadder& ladder, const std::vector<int>& requested);

// ---- the check, shared with the tests ----
struct CheckResult {
  bool ok = true;
  int64_t checked = 0, bad = 0, non_finite_reference = 0;
  double max_abs_error = 0, max_rel_error = 0;
  std::string first_bad;  // "index 17: 1.25 vs reference 1.5"
};
CheckResult check_against_reference(const Tensor& output, const Tensor& reference, Tolerance tol);

// The SGEMM family's tolerance for a version at depth K, inputs uniform in [-1, 1) (reasons in
// bench/cuda/sgemm.cpp); the tests of the ladder use it too.
Tolerance sgemm_tolerance(const cuda::KernelVersion& v, int64_t K);

// The softmax family's tolerance (bench/cuda/softmax.cpp: worst-case bounds) for rows of `cols`,
// max_abs_logit = max |scale x| of a fused problem (0 otherwise); and its problems' inputs, CPU
// float32, with the float64 reference: x uniform in [-4, 4), a mask row of 0 then -10000 (a random
// number of valid columns >= 1) per rows_per_mask rows (0: no mask, no scale).
Tolerance softmax_tolerance(bool log, int64_t cols, double max_abs_logit);
struct SoftmaxProblemData {
  Tensor x, mask, reference;  // mask (rows / rows_per_mask, cols) or undefined
  double max_abs_logit = 0;
};
SoftmaxProblemData softmax_problem_data(int64_t rows, int64_t cols, bool log, int64_t rows_per_mask, float scale,
                                        uint64_t seed);

// The layer-norm family's tolerances (bench/cuda/layernorm.cpp: worst-case bounds) for rows of
// `cols`, on y, the saved mean and the saved rstd; and its problems' inputs (CPU float32; weight
// and bias undefined without affine) with the float64 reference.
struct LayerNormTolerances {
  Tolerance y, mean, rstd;
};
LayerNormTolerances layer_norm_tolerances(int64_t cols);
struct LayerNormProblemData {
  Tensor x, weight, bias;  // x (rows, cols); weight, bias (cols) or undefined
  float eps = 1e-5f;
  Tensor y, mean, rstd;  // float64: (rows, cols), (rows), (rows)
};
LayerNormProblemData layer_norm_problem_data(int64_t rows, int64_t cols, bool affine, uint64_t seed);

// The batch-norm statistics family's tolerance (bench/cuda/bnstats.cpp: worst-case bounds per
// version) on (2, C) = mean, biased variance; and its problems' inputs (CPU float32 (N, C, HW),
// x = 2 N(0, 1) + 1) with the float64 reference.
Tolerance bn_stats_tolerance(const cuda::KernelVersion& v, int64_t N, int64_t C, int64_t HW);
struct BnStatsProblemData {
  Tensor x, reference;
};
BnStatsProblemData bn_stats_problem_data(int64_t N, int64_t C, int64_t HW, uint64_t seed);

// The attention family's float64 reference for one head (bench/cuda/attention.cpp): q, k, v, d_o
// (S, D) row-major float32, mask (S) additive or null; forward and backward of
// softmax(scale q k^T + mask) v. The tests of the ladder use it, its tolerance and its mask too.
struct AttentionReference {
  std::vector<double> o, lse, d_q, d_k, d_v;  // (S, D), lse (S)
};
AttentionReference attention_reference(const float* q, const float* k, const float* v, const float* d_o,
                                       const float* mask, int64_t S, int64_t D, double scale);
Tolerance attention_tolerance(const cuda::KernelVersion& v, int64_t S);
// The bench's padding, (B, S): batch entry b keeps S - (b % 4) S / 8 keys (at least 1), -10000 after.
std::vector<float> attention_key_mask(int64_t B, int64_t S);

// Peak rates of the device, measured by the bench's own kernels (cuda/kernels/roofline.h).
struct Peaks {
  double fp32_gflops = 0, tf32_gflops = 0, bf16_gflops = 0, dram_gbps = 0;
};

}  // namespace cxr::bench
