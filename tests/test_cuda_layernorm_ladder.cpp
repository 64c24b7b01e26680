// test_cuda_layernorm_ladder.cpp — the layer-norm ladder of the kernel study
// (cuda/kernels/layernorm/, docs/KERNELS.md): every version's y, saved mean and saved rstd against
// the float64 reference on odd shapes (partial warps and float4 chunks, v4's register and Welford
// paths, misaligned rows, with and without the affine), within bench/cuda/layernorm.cpp's
// tolerances; a second run bit-identical, in place equal to out of place, nothing written past the
// outputs; a constant row (variance 0: y = b); the backend's float32 layer norm running the selected
// version. Runs on a device (the emulator in the emulated build).
#if defined(CXR_HAS_CUDA)

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/layernorm/layernorm.h"
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

constexpr int64_t kGuard = 5;
const float kNaN = std::numeric_limits<float>::quiet_NaN();

// A device buffer: `offset` NaNs, the values, kGuard NaNs.
Tensor device_buffer(const std::vector<double>& values, int64_t offset) {
  std::vector<double> all(size_t(offset), static_cast<double>(kNaN));
  all.insert(all.end(), values.begin(), values.end());
  all.insert(all.end(), size_t(kGuard), static_cast<double>(kNaN));
  return from_vector(all, {int64_t(all.size())}, {DType::Float32}).to(Device::CUDA);
}
std::vector<float> host_floats(const Tensor& t) {
  const Tensor c = t.to(Device::CPU);
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Elements [offset, offset + n) of `got` against `ref` within `tol`, and the kGuard after them NaN.
void check_values(const char* what, const std::vector<float>& got, int64_t offset, const Tensor& ref,
                  bench::Tolerance tol) {
  const std::vector<double> r = ref.to_vector();
  int64_t bad = 0;
  std::string first_bad;
  for (size_t i = 0; i < r.size(); ++i) {
    const double g = got[size_t(offset) + i];
    if (!(std::abs(g - r[i]) <= tol.atol + tol.rtol * std::abs(r[i])) && bad++ == 0)
      first_bad = std::to_string(i) + ": " + std::to_string(g) + " vs " + std::to_string(r[i]);
  }
  CHECK_MESSAGE(bad == 0, std::string(what), ": ", bad, " elements outside the tolerance; first ", first_bad);
  for (int64_t i = 0; i < kGuard; ++i)
    CHECK_MESSAGE(std::isnan(got[size_t(offset) + r.size() + size_t(i)]), std::string(what), ": written past the end");
}

struct RowsCase {
  int64_t rows, cols;
  bool affine;
  int64_t offset = 0;  // elements before x's and out's first (1: misaligned for float4)
};

void check_rows_case(const RowsCase& t, int version) {
  const cuda::KernelVersion& v = cuda::layer_norm_ladder().version(version);
  INFO("rows ", t.rows, " cols ", t.cols, std::string(t.affine ? " affine" : ""), " offset ", t.offset, ", version ",
       v.name);
  const bench::LayerNormProblemData d =
      bench::layer_norm_problem_data(t.rows, t.cols, t.affine, uint64_t(t.rows * 71 + t.cols));
  // The tolerances' assumption about the data (bench/cuda/layernorm.cpp).
  const double max_w = t.affine ? max(abs(d.weight)).item() : 1.0;
  const Tensor x64 = d.x.to(DType::Float64);
  CHECK(max(abs(x64)).item() <= 12);
  CHECK(max(abs((x64 - d.mean.view({t.rows, 1})) * d.rstd.view({t.rows, 1}))).item() * max_w <= 12);

  const int64_t n = t.rows * t.cols;
  const Tensor x = device_buffer(d.x.to_vector(), t.offset);
  const Tensor out = device_buffer(std::vector<double>(size_t(n), 0.0), t.offset);
  const Tensor mean = device_buffer(std::vector<double>(size_t(t.rows), 0.0), 0);
  const Tensor rstd = device_buffer(std::vector<double>(size_t(t.rows), 0.0), 0);
  const Tensor w = t.affine ? d.weight.to(Device::CUDA) : Tensor(), b = t.affine ? d.bias.to(Device::CUDA) : Tensor();
  cuda::LayerNormArgs a;
  a.rows = t.rows, a.cols = t.cols, a.eps = d.eps;
  a.x = x.data<float>() + t.offset, a.out = out.data<float>() + t.offset;
  if (t.affine) a.weight = w.data<float>(), a.bias = b.data<float>();
  a.save_mean = mean.data<float>(), a.save_rstd = rstd.data<float>();
  cuda::layer_norm_rows(version, a);
  const std::vector<float> y = host_floats(out), m = host_floats(mean), r = host_floats(rstd);
  const bench::LayerNormTolerances tol = bench::layer_norm_tolerances(t.cols);
  check_values("y", y, t.offset, d.y, tol.y);
  check_values("mean", m, 0, d.mean, tol.mean);
  check_values("rstd", r, 0, d.rstd, tol.rstd);

  cuda::layer_norm_rows(version, a);
  CHECK_MESSAGE(same_bits(host_floats(out), y), "a second run differs");
  CHECK_MESSAGE((same_bits(host_floats(mean), m) && same_bits(host_floats(rstd), r)),
                "a second run's statistics differ");
  cuda::LayerNormArgs in_place = a;
  in_place.out = const_cast<float*>(a.x);
  cuda::layer_norm_rows(version, in_place);
  CHECK_MESSAGE(same_bits(host_floats(x), y), "in place differs from out of place");
}

}  // namespace

TEST_CASE("cuda layer norm ladder: CXR_CUDA_VERSION_LAYER_NORM picks the version, the best is v4") {
  const cuda::KernelLadder& ladder = cuda::layer_norm_ladder();
  REQUIRE(ladder.versions.size() == 4);
  CHECK(ladder.best == 4);
  CHECK(cuda::version_variable(ladder) == "CXR_CUDA_VERSION_LAYER_NORM");
  {
    ScopedEnv env("CXR_CUDA_VERSION_LAYER_NORM", std::nullopt);
    CHECK(cuda::selected_version(ladder) == 4);
  }
  for (int n = 1; n <= 4; ++n) {
    ScopedEnv env("CXR_CUDA_VERSION_LAYER_NORM", std::to_string(n));
    CHECK(cuda::selected_version(ladder) == n);
  }
  ScopedEnv env("CXR_CUDA_VERSION_LAYER_NORM", "5");
  CHECK(contains(error_of([&] { cuda::selected_version(ladder); }), "4 (v4_fused_registers)"));
}

TEST_CASE("cuda layer norm ladder: every version equals the float64 reference") {
  if (!cuda_ready()) return;
  const std::vector<RowsCase> cases = {
      {1, 1, true},       {37, 5, true},   {19, 333, false}, {7, 256, true},   {9, 256, true, 1},
      {6, 100, false, 1}, {5, 1024, true}, {2, 1025, true},  {3, 1500, false}, {4, 32, true},
  };
  for (const cuda::KernelVersion& v : cuda::layer_norm_ladder().versions)
    for (const RowsCase& c : cases) check_rows_case(c, v.number);
}

TEST_CASE("cuda layer norm ladder: a constant row normalizes to the bias") {
  if (!cuda_ready()) return;
  for (int64_t cols : {7, 64, 2000}) {
    const Tensor x = full({3, cols}, 2.5, {.device = Device::CUDA});
    const Tensor b = from_vector(std::vector<double>(size_t(cols), 0.75), {cols}).to(Device::CUDA);
    const Tensor w = full({cols}, 3.0, {.device = Device::CUDA});
    for (const cuda::KernelVersion& v : cuda::layer_norm_ladder().versions) {
      INFO("cols ", cols, ", version ", v.name);
      Tensor out = empty({3, cols}, {.device = Device::CUDA}), mean = empty({3}, {.device = Device::CUDA}),
             rstd = empty({3}, {.device = Device::CUDA});
      cuda::LayerNormArgs a;
      a.rows = 3, a.cols = cols, a.x = x.data<float>(), a.out = out.data<float>(), a.weight = w.data<float>(),
      a.bias = b.data<float>(), a.save_mean = mean.data<float>(), a.save_rstd = rstd.data<float>();
      cuda::layer_norm_rows(v.number, a);
      for (double y : out.to(Device::CPU).to_vector()) CHECK(y == 0.75);
      for (double m : mean.to(Device::CPU).to_vector()) CHECK(m == 2.5);
      for (double r : rstd.to(Device::CPU).to_vector()) CHECK(r == doctest::Approx(1 / std::sqrt(1e-5)).epsilon(1e-6));
    }
  }
}

TEST_CASE("cuda layer norm ladder: the backend's float32 layer norm runs the selected version") {
  if (!cuda_ready()) return;
  const Tensor x = random_input({3, 5, 96}, DType::Float32, 91).to(Device::CUDA);
  const Tensor w = random_input({96}, DType::Float32, 92).to(Device::CUDA);
  const Tensor b = random_input({96}, DType::Float32, 93).to(Device::CUDA);
  for (const cuda::KernelVersion& v : cuda::layer_norm_ladder().versions) {
    INFO("version ", v.name);
    ScopedEnv env("CXR_CUDA_VERSION_LAYER_NORM", std::to_string(v.number));
    const Tensor backend = layer_norm(x, {96}, w, b, 1e-5);
    Tensor direct = empty({3, 5, 96}, {.device = Device::CUDA});
    cuda::LayerNormArgs a;
    a.rows = 15, a.cols = 96, a.eps = 1e-5f, a.x = x.data<float>(), a.out = direct.data<float>();
    a.weight = w.data<float>(), a.bias = b.data<float>();
    cuda::layer_norm_rows(v.number, a);
    CHECK(bitwise_equal(backend, direct));
  }
  ScopedEnv env("CXR_CUDA_VERSION_LAYER_NORM", "0");
  CHECK(contains(error_of([&] { layer_norm(x, {96}, w, b, 1e-5); }), "CXR_CUDA_VERSION_LAYER_NORM=0"));
}

TEST_CASE("cuda layer norm ladder: bad arguments are errors naming the problem") {
  if (!cuda_ready()) return;
  Tensor buffer = zeros({8}, {.device = Device::CUDA});
  cuda::LayerNormArgs ok;
  ok.rows = 2, ok.cols = 4, ok.x = buffer.data<float>(), ok.out = buffer.data<float>();
  CHECK(contains(error_of([&] { cuda::layer_norm_rows(5, ok); }), "no kernel version 5"));
  cuda::LayerNormArgs negative = ok;
  negative.rows = -3;
  CHECK(contains(error_of([&] { cuda::layer_norm_rows(4, negative); }), "rows=-3"));
  cuda::LayerNormArgs null_out = ok;
  null_out.out = nullptr;
  CHECK(contains(error_of([&] { cuda::layer_norm_rows(4, null_out); }), "null operand"));
}

#endif  // CXR_HAS_CUDA
