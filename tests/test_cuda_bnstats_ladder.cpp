// test_cuda_bnstats_ladder.cpp — the batch-norm statistics ladder of the kernel study
// (cuda/kernels/bnstats/, docs/KERNELS.md): every version's per-channel mean and biased variance
// against the float64 reference on odd shapes (odd HW, float4 walks, parts > 1 with ragged last
// parts, HW 1, one channel, a misaligned input), within bench/cuda/bnstats.cpp's tolerance; a
// second run bit-identical; an empty channel NaN; a constant channel's variance exactly 0; the
// backend's float32 batch-norm training statistics running the selected version. Runs on a
// device (the emulator in the emulated build).
#if defined(CXR_HAS_CUDA)

#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/bnstats/bnstats.h"
#include "cuda_testing.h"
#include "tensor/kernels/norm.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

struct StatsCase {
  int64_t N, C, HW;
  int64_t offset = 0;  // elements before x's first (1: misaligned for float4)
};

// mean and var of every version on the device; the (2, C) result as doubles.
std::vector<double> run_stats(int version, const Tensor& x_buffer, int64_t offset, int64_t N, int64_t C, int64_t HW) {
  Tensor out = full({2, C}, -7.0, {.device = Device::CUDA});
  cuda::BnStatsArgs a;
  a.N = N, a.C = C, a.HW = HW;
  a.x = x_buffer.data<float>() + offset, a.mean = out.data<float>(), a.var = out.data<float>() + C;
  cuda::bn_stats(version, a);
  return out.to(Device::CPU).to_vector();
}

void check_stats_case(const StatsCase& t, int version) {
  const cuda::KernelVersion& v = cuda::bn_stats_ladder().version(version);
  INFO("N ", t.N, " C ", t.C, " HW ", t.HW, " offset ", t.offset, ", version ", v.name, ", parts ",
       cuda::bn_stats_parts(t.N * t.HW, t.C));
  const bench::BnStatsProblemData d = bench::bn_stats_problem_data(t.N, t.C, t.HW, uint64_t(t.N * 13 + t.C * 5 + t.HW));
  CHECK(max(abs(d.x)).item() <= 12);  // the tolerance's assumption
  std::vector<double> values(size_t(t.offset), 0.0);
  const std::vector<double> x = d.x.to_vector();
  values.insert(values.end(), x.begin(), x.end());
  const Tensor buffer = from_vector(values, {int64_t(values.size())}, {DType::Float32}).to(Device::CUDA);
  const std::vector<double> got = run_stats(version, buffer, t.offset, t.N, t.C, t.HW);
  const bench::CheckResult r = bench::check_against_reference(from_vector(got, {2, t.C}, {DType::Float64}), d.reference,
                                                              bench::bn_stats_tolerance(v, t.N, t.C, t.HW));
  CHECK_MESSAGE(r.ok, r.bad, " of ", r.checked, " outside the tolerance; first ", r.first_bad);
  CHECK(r.non_finite_reference == 0);
  CHECK_MESSAGE(run_stats(version, buffer, t.offset, t.N, t.C, t.HW) == got, "a second run differs");
}

}  // namespace

TEST_CASE("cuda bn_stats ladder: CXR_CUDA_VERSION_BN_STATS picks the version, the best is v4") {
  const cuda::KernelLadder& ladder = cuda::bn_stats_ladder();
  REQUIRE(ladder.versions.size() == 4);
  CHECK(ladder.best == 4);
  {
    ScopedEnv env("CXR_CUDA_VERSION_BN_STATS", std::nullopt);
    CHECK(cuda::selected_version(ladder) == 4);
  }
  ScopedEnv env("CXR_CUDA_VERSION_BN_STATS", "2");
  CHECK(cuda::selected_version(ladder) == 2);
  // The split into parts depends on the shape alone.
  CHECK(cuda::bn_stats_parts(1000, 8) == 1);
  CHECK(cuda::bn_stats_parts(64 * 256 * 256, 8) == 64);
  CHECK(cuda::bn_stats_parts(64 * 32 * 32, 32) == 8);
  CHECK(cuda::bn_stats_parts(64 * 4 * 4, 192) == 1);
  CHECK(cuda::bn_stats_parts(0, 0) == 1);
}

TEST_CASE("cuda bn_stats ladder: every version equals the float64 reference, bit-identical on a second run") {
  if (!cuda_ready()) return;
  const std::vector<StatsCase> cases = {
      {3, 5, 63}, {2, 3, 64},    {7, 2, 4096}, {1, 4, 20004}, {37, 6, 1},
      {16, 1, 9}, {5, 3, 64, 1}, {1, 1, 1},    {64, 3, 16},
  };
  for (const cuda::KernelVersion& v : cuda::bn_stats_ladder().versions)
    for (const StatsCase& c : cases) check_stats_case(c, v.number);
}

TEST_CASE("cuda bn_stats ladder: an empty channel is NaN, a constant channel has variance 0") {
  if (!cuda_ready()) return;
  const Tensor none = zeros({8}, {.device = Device::CUDA});
  const Tensor constant = full({4, 2, 300}, -1.5, {.device = Device::CUDA});
  for (const cuda::KernelVersion& v : cuda::bn_stats_ladder().versions) {
    INFO("version ", v.name);
    for (double s : run_stats(v.number, none, 0, 0, 3, 5)) CHECK(std::isnan(s));
    const std::vector<double> c = run_stats(v.number, constant, 0, 4, 2, 300);
    CHECK(c == std::vector<double>{-1.5, -1.5, 0.0, 0.0});
  }
}

TEST_CASE("cuda bn_stats ladder: the backend's float32 batch-norm training statistics run the selected version") {
  if (!cuda_ready()) return;
  const int64_t N = 6, C = 3, HW = 40;
  const Tensor x = (random_input({N, C, 5, 8}, DType::Float32, 501) * 2.0 + 1.0).to(Device::CUDA);
  for (const cuda::KernelVersion& v : cuda::bn_stats_ladder().versions) {
    INFO("version ", v.name);
    ScopedEnv env("CXR_CUDA_VERSION_BN_STATS", std::to_string(v.number));
    Tensor out = empty({N, C, 5, 8}, {.device = Device::CUDA}), save_mean = empty({C}, {.device = Device::CUDA}),
           save_invstd = empty({C}, {.device = Device::CUDA});
    batch_norm_forward_kernel(Device::CUDA)(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, out, save_mean,
                                            save_invstd);
    const std::vector<double> direct = run_stats(v.number, x, 0, N, C, HW);
    const std::vector<double> mean = save_mean.to(Device::CPU).to_vector(),
                              invstd = save_invstd.to(Device::CPU).to_vector();
    for (int64_t c = 0; c < C; ++c) {
      CHECK(mean[size_t(c)] == direct[size_t(c)]);  // the ladder's float mean, through double, exactly
      CHECK(invstd[size_t(c)] == doctest::Approx(1 / std::sqrt(direct[size_t(C + c)] + 1e-5)).epsilon(1e-6));
    }
  }
  ScopedEnv env("CXR_CUDA_VERSION_BN_STATS", "9");
  Tensor out = empty({N, C, 5, 8}, {.device = Device::CUDA}), m = empty({C}, {.device = Device::CUDA}),
         s = empty({C}, {.device = Device::CUDA});
  CHECK(contains(error_of([&] {
                   batch_norm_forward_kernel(Device::CUDA)(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5,
                                                           out, m, s);
                 }),
                 "CXR_CUDA_VERSION_BN_STATS=9"));
}

TEST_CASE("cuda bn_stats ladder: bad arguments are errors naming the problem") {
  if (!cuda_ready()) return;
  Tensor buffer = zeros({8}, {.device = Device::CUDA});
  cuda::BnStatsArgs ok;
  ok.N = 1, ok.C = 2, ok.HW = 2, ok.x = buffer.data<float>(), ok.mean = buffer.data<float>() + 4,
  ok.var = buffer.data<float>() + 6;
  CHECK(contains(error_of([&] { cuda::bn_stats(5, ok); }), "no kernel version 5"));
  cuda::BnStatsArgs negative = ok;
  negative.HW = -2;
  CHECK(contains(error_of([&] { cuda::bn_stats(4, negative); }), "HW=-2"));
  cuda::BnStatsArgs huge = ok;
  huge.N = 1 << 20, huge.HW = 1 << 5;
  CHECK(contains(error_of([&] { cuda::bn_stats(4, huge); }), "2^24"));
  cuda::BnStatsArgs null_mean = ok;
  null_mean.mean = nullptr;
  CHECK(contains(error_of([&] { cuda::bn_stats(4, null_mean); }), "null operand"));
}

#endif  // CXR_HAS_CUDA
