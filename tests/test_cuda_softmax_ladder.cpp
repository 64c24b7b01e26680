// test_cuda_softmax_ladder.cpp — the softmax ladder of the kernel study (cuda/kernels/softmax/,
// docs/KERNELS.md): every version against the float64 reference on odd shapes (partial warps and
// float4 chunks, the register and the streaming paths of v5, misaligned rows, plain, log and
// fused with scale and mask), within bench/cuda/softmax.cpp's tolerance; a second run
// bit-identical, in place equal to out of place, nothing written past the output; the reference's
// non-finite semantics (-inf entries, all -inf rows, NaN, +inf); the choice of a version and the
// backend's softmax running the selected version. Runs on a device (the emulator in the emulated
// build).
#if defined(CXR_HAS_CUDA)

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/softmax/softmax.h"
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

constexpr float kScale = 0.125f;
constexpr int64_t kGuard = 5;  // NaN elements after the output, which must stay NaN
const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct RowsCase {
  int64_t rows, cols;
  bool log;
  int64_t rows_per_mask;  // 0: not fused
  int64_t offset = 0;     // elements before x's and out's first (1: misaligned for float4)
};

// A device buffer holding `values` after `offset` NaNs, followed by kGuard NaNs.
Tensor device_buffer(const std::vector<double>& values, int64_t offset) {
  std::vector<double> all(size_t(offset), static_cast<double>(kNaN));
  all.insert(all.end(), values.begin(), values.end());
  all.insert(all.end(), size_t(kGuard), double(kNaN));
  return from_vector(all, {int64_t(all.size())}, {DType::Float32}).to(Device::CUDA);
}

std::vector<float> host_floats(const Tensor& t) {
  const Tensor c = t.to(Device::CPU);
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

// Every bit equal (the NaNs around the output too).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void check_rows_case(const RowsCase& t, int version) {
  const cuda::KernelVersion& v = cuda::softmax_ladder().version(version);
  INFO("rows ", t.rows, " cols ", t.cols, std::string(t.log ? " log" : ""),
       std::string(t.rows_per_mask ? " fused" : ""), " offset ", t.offset, ", version ", v.name);
  const bench::SoftmaxProblemData d =
      bench::softmax_problem_data(t.rows, t.cols, t.log, t.rows_per_mask, kScale, uint64_t(t.rows * 131 + t.cols));
  const int64_t n = t.rows * t.cols;
  const Tensor x = device_buffer(d.x.to_vector(), t.offset);
  const Tensor out = device_buffer(std::vector<double>(size_t(n), double(kNaN)), t.offset);
  const Tensor mask = d.mask.defined() ? d.mask.to(Device::CUDA) : Tensor();
  cuda::SoftmaxArgs a;
  a.rows = t.rows, a.cols = t.cols, a.log = t.log;
  a.x = x.data<float>() + t.offset;
  a.out = out.data<float>() + t.offset;
  if (t.rows_per_mask > 0) a.scale = kScale, a.mask = mask.data<float>(), a.rows_per_mask = t.rows_per_mask;
  cuda::softmax_rows(version, a);
  const std::vector<float> first = host_floats(out);
  cuda::softmax_rows(version, a);
  CHECK_MESSAGE(same_bits(host_floats(out), first), "a second run differs");

  const bench::Tolerance tol = bench::softmax_tolerance(t.log, t.cols, d.max_abs_logit);
  const std::vector<double> ref = d.reference.to_vector();
  int64_t bad = 0;
  std::string first_bad;
  for (int64_t i = 0; i < n; ++i) {
    const double got = first[size_t(t.offset + i)];
    if (!(std::abs(got - ref[size_t(i)]) <= tol.atol + tol.rtol * std::abs(ref[size_t(i)])) && bad++ == 0)
      first_bad = "element " + std::to_string(i) + ": " + std::to_string(got) + " vs " + std::to_string(ref[size_t(i)]);
  }
  CHECK_MESSAGE(bad == 0, bad, " elements outside the tolerance; first ", first_bad);
  for (int64_t i = 0; i < kGuard; ++i)
    CHECK_MESSAGE(std::isnan(first[size_t(t.offset + n + i)]), "written past the output");

  // In place (out = x) gives the same bits.
  cuda::SoftmaxArgs in_place = a;
  in_place.out = const_cast<float*>(in_place.x);
  cuda::softmax_rows(version, in_place);
  CHECK_MESSAGE(same_bits(host_floats(x), first), "in place differs from out of place");
}

}  // namespace

TEST_CASE("cuda softmax ladder: CXR_CUDA_VERSION_SOFTMAX picks the version, the best is v5") {
  const cuda::KernelLadder& ladder = cuda::softmax_ladder();
  REQUIRE(ladder.versions.size() == 5);
  CHECK(ladder.best == 5);
  for (const cuda::KernelVersion& v : ladder.versions) CHECK((v.exact_fp32 && v.emulated));
  {
    ScopedEnv env("CXR_CUDA_VERSION_SOFTMAX", std::nullopt);
    CHECK(cuda::selected_version(ladder) == 5);
  }
  for (int n = 1; n <= 5; ++n) {
    ScopedEnv env("CXR_CUDA_VERSION_SOFTMAX", std::to_string(n));
    CHECK(cuda::selected_version(ladder) == n);
  }
  ScopedEnv env("CXR_CUDA_VERSION_SOFTMAX", "6");
  const std::string message = error_of([&] { cuda::selected_version(ladder); });
  CHECK(contains(message, "CXR_CUDA_VERSION_SOFTMAX=6"));
  CHECK(contains(message, "5 (v5_fused_registers)"));
}

TEST_CASE("cuda softmax ladder: every version equals the float64 reference") {
  if (!cuda_ready()) return;
  const std::vector<RowsCase> cases = {
      {1, 1, false, 0},      // one element
      {37, 5, false, 0},     // short rows: most lanes idle
      {19, 333, true, 0},    // log, odd: scalar loads in v5
      {9, 32, false, 0},     // exactly one warp's width
      {8, 64, false, 0},     // one float4 chunk a lane, half the lanes idle
      {5, 320, true, 0},     // the encoder's row length, log
      {24, 100, false, 8},   // fused: scale and a mask row per 8 rows, float4
      {6, 75, true, 3},      // fused log, scalar
      {7, 68, false, 7, 1},  // misaligned: v5's scalar path on a cols % 4 == 0 row
      {5, 1024, false, 0},   // the longest row v5 holds in registers (32 a lane)
      {2, 1025, false, 0},   // one past: v5 streams (v4's online kernel)
      {3, 1500, false, 3},   // long and fused: v5's online kernel with the logit fused
  };
  for (const cuda::KernelVersion& v : cuda::softmax_ladder().versions)
    for (const RowsCase& c : cases) check_rows_case(c, v.number);
}

TEST_CASE("cuda softmax ladder: -inf, NaN and +inf as the CPU reference treats them") {
  if (!cuda_ready()) return;
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  const int64_t cols = 40;
  std::vector<double> values;
  auto row = [&](auto value_of) {
    for (int64_t c = 0; c < cols; ++c) values.push_back(value_of(c));
  };
  row([&](int64_t c) { return c % 3 == 0 ? -inf : 0.1 * double(c); });  // -inf entries: exact zeros there
  row([&](int64_t c) { return c < 35 ? -inf : 1.0; });                  // -inf first (online: m = -inf)
  row([&](int64_t) { return -inf; });                                   // all -inf: NaN (0/0)
  row([&](int64_t c) { return c == 17 ? nan : 0.5; });                  // a NaN: the row NaN
  row([&](int64_t c) { return c == 3 ? inf : 0.5; });                   // +inf: NaN (inf - inf)
  const int64_t rows = int64_t(values.size()) / cols;
  const Tensor x = from_vector(values, {rows, cols}, {DType::Float32});
  for (bool log : {false, true}) {
    Tensor ref;
    {
      ScopedCpuKernels reference(CpuKernels::Reference);
      ref = log ? log_softmax(x, -1) : softmax(x, -1);
    }
    const std::vector<double> r = ref.to_vector();
    const Tensor dx = x.to(Device::CUDA);
    for (const cuda::KernelVersion& v : cuda::softmax_ladder().versions) {
      INFO("version ", v.name, std::string(log ? " log" : ""));
      Tensor out = empty({rows, cols}, {.device = Device::CUDA});
      cuda::SoftmaxArgs a;
      a.rows = rows, a.cols = cols, a.log = log, a.x = dx.data<float>(), a.out = out.data<float>();
      cuda::softmax_rows(v.number, a);
      const std::vector<double> got = out.to(Device::CPU).to_vector();
      for (size_t i = 0; i < r.size(); ++i) {
        INFO("row ", i / size_t(cols), " col ", i % size_t(cols), ": ", got[i], " vs ", r[i]);
        if (std::isnan(r[i]))
          CHECK(std::isnan(got[i]));
        else
          CHECK((got[i] == r[i] || std::abs(got[i] - r[i]) <= 1e-6 + 1e-6 * std::abs(r[i])));  // -inf, 0 exact
      }
    }
  }
}

TEST_CASE("cuda softmax ladder: the backend's float32 softmax along the last dim runs the selected version") {
  if (!cuda_ready()) return;
  const Tensor x = random_input({3, 4, 130}, DType::Float32, 77).to(Device::CUDA);
  for (bool log : {false, true})
    for (const cuda::KernelVersion& v : cuda::softmax_ladder().versions) {
      INFO("version ", v.name, std::string(log ? " log" : ""));
      ScopedEnv env("CXR_CUDA_VERSION_SOFTMAX", std::to_string(v.number));
      const Tensor backend = log ? log_softmax(x, -1) : softmax(x, -1);
      Tensor direct = empty({3, 4, 130}, {.device = Device::CUDA});
      cuda::SoftmaxArgs a;
      a.rows = 12, a.cols = 130, a.log = log, a.x = x.data<float>(), a.out = direct.data<float>();
      cuda::softmax_rows(v.number, a);
      CHECK(bitwise_equal(backend, direct));
    }
  ScopedEnv env("CXR_CUDA_VERSION_SOFTMAX", "x");
  CHECK(contains(error_of([&] { softmax(x, -1); }), "CXR_CUDA_VERSION_SOFTMAX='x' is not a number"));
}

TEST_CASE("cuda softmax ladder: bad arguments are errors naming the problem") {
  if (!cuda_ready()) return;
  Tensor buffer = zeros({8}, {.device = Device::CUDA});
  cuda::SoftmaxArgs ok;
  ok.rows = 2, ok.cols = 4, ok.x = buffer.data<float>(), ok.out = buffer.data<float>();
  CHECK(contains(error_of([&] { cuda::softmax_rows(6, ok); }), "no kernel version 6"));
  cuda::SoftmaxArgs negative = ok;
  negative.cols = -1;
  CHECK(contains(error_of([&] { cuda::softmax_rows(5, negative); }), "cols=-1"));
  cuda::SoftmaxArgs null_x = ok;
  null_x.x = nullptr;
  CHECK(contains(error_of([&] { cuda::softmax_rows(5, null_x); }), "null operand"));
  cuda::SoftmaxArgs bad_period = ok;
  bad_period.rows_per_mask = 0;
  CHECK(contains(error_of([&] { cuda::softmax_rows(5, bad_period); }), "rows_per_mask"));
  cuda::SoftmaxArgs empty_rows = ok;
  empty_rows.rows = 0;
  empty_rows.x = nullptr;
  CHECK_NOTHROW(cuda::softmax_rows(5, empty_rows));
}

#endif  // CXR_HAS_CUDA
