// testing.h — shared test helpers:
//   golden(family)           the PyTorch fixture file tests/goldens/<family>.safetensors
//   check_golden(...)        run an op on a fixture case's inputs; compare output and input grads
//   check_gradcheck(...)     gradcheck in float64 and report failures through doctest
//   check_close(...)         elementwise |a - b| <= atol + rtol |b| with a readable failure message
//   ScopedCpuKernels         run a scope with the reference (or fast) CPU kernels
//   error_of(fn), contains   the message of the cxr::Error fn throws; substring test
//   temp_path, fresh_temp_dir, read_bytes, write_bytes   files of the test process
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "ops/gradcheck.h"
#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/random.h"
#include "tensor/safetensors.h"

namespace cxr::testing {

// Runs a scope with the reference (or fast) CPU kernels, restoring the previous choice after: tests
// compute expected values and error bounds with the reference kernels.
class ScopedCpuKernels {
 public:
  explicit ScopedCpuKernels(CpuKernels k) : old_(cpu_kernels()) { set_cpu_kernels(k); }
  ~ScopedCpuKernels() { set_cpu_kernels(old_); }
  ScopedCpuKernels(const ScopedCpuKernels&) = delete;
  ScopedCpuKernels& operator=(const ScopedCpuKernels&) = delete;

 private:
  CpuKernels old_;
};

// The message of the cxr::Error that fn throws ("" and a failed check if it throws none).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL_CHECK("expected a cxr::Error");
  return "";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A path under the system temporary directory, unique to this test process (nothing is created).
inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cxr_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

// A fresh, empty directory under the temp directory, removed by the caller if wanted.
inline std::string fresh_temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("cxr_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  REQUIRE_MESSAGE(out.good(), "cannot write ", path);
}

inline std::string source_path(const std::string& relative) { return std::string(CXR_SOURCE_DIR) + "/" + relative; }

// Fixture files are read once per test process.
inline const SafetensorsFile& golden(const std::string& family) {
  static std::map<std::string, SafetensorsFile> cache;
  auto it = cache.find(family);
  if (it == cache.end()) it = cache.emplace(family, read_safetensors(source_path("tests/goldens/" + family + ".safetensors"))).first;
  return it->second;
}

inline Tensor golden_tensor(const std::string& family, const std::string& key) {
  const auto& f = golden(family);
  auto it = f.tensors.find(key);
  if (it == f.tensors.end()) FAIL("golden ", family, " has no tensor '", key, "' (run make goldens?)");
  return it->second.clone();  // tests may mutate
}

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
};

inline void check_close(const Tensor& actual, const Tensor& expected, Tolerance tol, const std::string& what) {
  INFO(what);
  REQUIRE_MESSAGE(actual.shape() == expected.shape(), "shape ", shape_str(actual.shape()), " vs expected ",
                  shape_str(expected.shape()));
  Tensor a = actual.to(DType::Float64), e = expected.to(DType::Float64);
  bool ok = allclose(a, e, tol.rtol, tol.atol);
  CHECK_MESSAGE(ok, "max |diff| = ", max_abs_diff(a, e), " (rtol ", tol.rtol, ", atol ", tol.atol, ")");
}

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Runs `fn` on the inputs <case>.in0, in1, ... of golden `family` (float inputs require grad when
// the fixture holds their gradient <case>.gin<i>), compares the output with <case>.out, then
// back-propagates <case>.gout and compares each input gradient.
inline void check_golden(const std::string& family, const std::string& name, const OpFn& fn, Tolerance out_tol,
                         Tolerance grad_tol) {
  INFO("golden ", family, "/", name);
  const auto& f = golden(family);
  std::vector<Tensor> inputs;
  for (int i = 0;; ++i) {
    auto it = f.tensors.find(name + ".in" + std::to_string(i));
    if (it == f.tensors.end()) break;
    Tensor x = it->second.clone();
    if (f.tensors.count(name + ".gin" + std::to_string(i))) x.requires_grad_(true);
    inputs.push_back(x);
  }
  REQUIRE_MESSAGE(!inputs.empty(), "golden ", family, " has no case '", name, "'");
  Tensor out = fn(inputs);
  check_close(out, golden_tensor(family, name + ".out"), out_tol, name + ": forward");
  if (!f.tensors.count(name + ".gout")) return;
  REQUIRE_MESSAGE(out.requires_grad(), name, ": output does not require grad but the golden has gradients");
  out.backward(golden_tensor(family, name + ".gout"));
  for (size_t i = 0; i < inputs.size(); ++i) {
    std::string key = name + ".gin" + std::to_string(i);
    if (!f.tensors.count(key)) continue;
    REQUIRE_MESSAGE(inputs[i].grad().defined(), name, ": input ", i, " received no gradient");
    check_close(inputs[i].grad(), golden_tensor(family, key), grad_tol, name + ": gradient of input " + std::to_string(i));
  }
}

// float64 input with values drawn from N(0, 1) (or U[lo, hi) with uniform_between), requiring grad.
inline Tensor randn64(const Shape& shape, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {.dtype = DType::Float64, .requires_grad = true}, &g);
}
inline Tensor uniform64(const Shape& shape, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  Tensor t = rand(shape, {.dtype = DType::Float64}, &g) * (hi - lo) + lo;
  return t.detach().requires_grad_(true);
}

inline void check_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, int64_t expected_kinks = 0,
                            GradcheckOptions options = {}) {
  GradcheckResult r = gradcheck(fn, inputs, options);
  CHECK_MESSAGE(r.ok, "gradcheck failed (max error ", r.max_abs_error, "):\n", r.message);
  CHECK_MESSAGE(r.kinks == expected_kinks, "gradcheck found ", r.kinks, " kink elements, expected ", expected_kinks);
  CHECK(r.checked > 0);
}

}  // namespace cxr::testing

namespace cxr::testing {
// Marks the running test as skipped, visibly: prints the reason with the marker CXR-TEST-SKIPPED,
// which ctest turns into "Skipped" (CMakeLists.txt: SKIP_REGULAR_EXPRESSION). Return right after.
inline void skip_test(const std::string& reason) { MESSAGE("CXR-TEST-SKIPPED: ", reason); }
}  // namespace cxr::testing
