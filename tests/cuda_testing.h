// cuda_testing.h — the CUDA backend's tests, in the style of ggml's test-backend-ops: each case is an
// op on some CPU inputs; check_backend() runs it on the CPU with the reference kernels and on the
// CUDA device, compares the output (tolerance per case), back-propagates one random upstream
// gradient on both and compares every input's gradient, then runs the device again and requires
// bit-identical output and gradients (the backend is deterministic).
//   cuda_ready()          true with a device (a GPU, or the emulator of make test-cuda-emulated);
//                         otherwise skips the test, saying why
//   random_input(...)     reproducible inputs: normal, or uniform in [lo, hi)
//   ScopedEnv             sets or unsets an environment variable (CXR_CUDA_VERSION_<OP>) for a scope
#pragma once

#include <cstdlib>
#include <cstring>
#include <optional>
#include <functional>
#include <string>
#include <vector>

#include "cuda/runtime.h"
#include "testing.h"

namespace cxr::testing {

// Sets (or, with nullopt, unsets) an environment variable for the scope; restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

inline bool cuda_ready() {
  if (cuda::available()) return true;
  skip_test("no CUDA device here (" + cuda::status() + "); a GPU machine runs this (make gpu-check), and so does "
            "the CPU emulator (make test-cuda-emulated)");
  return false;
}

struct BackendCase {
  std::string name;                                        // the op and its shapes, for the messages
  std::vector<Tensor> inputs;                              // CPU tensors
  std::function<Tensor(const std::vector<Tensor>&)> op;   // the op on inputs of either device
  Tolerance forward{1e-5, 1e-6};
  Tolerance backward{1e-5, 1e-6};
  bool grad = true;  // floating inputs require grad, and their gradients are compared
};

// Every byte of two tensors' values equal (NaN payloads too).
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = contiguous_values(copy_to(a, Device::CPU)), y = contiguous_values(copy_to(b, Device::CPU));
  return std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) == 0;
}

struct BackendRun {
  Tensor out;                 // on the CPU
  std::vector<Tensor> grads;  // on the CPU; undefined for inputs without a gradient
};

inline BackendRun run_case_on(const BackendCase& c, Device device, const Tensor& upstream) {
  std::vector<Tensor> in;
  for (const Tensor& x : c.inputs) {
    Tensor t = device == Device::CPU ? x.clone() : copy_to(x, device);  // a fresh leaf either way
    if (c.grad && is_floating(t.dtype())) t.requires_grad_(true);
    in.push_back(t);
  }
  Tensor y = c.op(in);
  BackendRun r;
  r.out = copy_to(y.detach(), Device::CPU);
  if (c.grad && y.requires_grad() && upstream.defined()) {
    y.backward(copy_to(upstream, device));
    for (const Tensor& t : in) r.grads.push_back(t.requires_grad() && t.grad().defined() ? copy_to(t.grad(), Device::CPU) : Tensor());
  }
  return r;
}

inline void check_backend(const BackendCase& c) {
  INFO("case: ", c.name);
  BackendRun ref;
  Tensor upstream;
  {
    ScopedCpuKernels reference(CpuKernels::Reference);
    ref = run_case_on(c, Device::CPU, Tensor());
    if (c.grad && is_floating(ref.out.dtype())) {
      Generator g(0x5eed + ref.out.numel());
      upstream = randn(ref.out.shape(), {ref.out.dtype()}, &g);
      ref = run_case_on(c, Device::CPU, upstream);
    }
  }
  const BackendRun dev = run_case_on(c, Device::CUDA, upstream);
  REQUIRE_MESSAGE(dev.out.shape() == ref.out.shape(), "CUDA output shape ", shape_str(dev.out.shape()), " vs CPU ",
                  shape_str(ref.out.shape()));
  REQUIRE(dev.out.dtype() == ref.out.dtype());
  check_close(dev.out, ref.out, c.forward, c.name + ": CUDA output vs the CPU reference");
  REQUIRE(dev.grads.size() == ref.grads.size());
  for (size_t i = 0; i < ref.grads.size(); ++i) {
    REQUIRE_MESSAGE(dev.grads[i].defined() == ref.grads[i].defined(), "gradient of input ", i, " defined on one device only");
    if (ref.grads[i].defined())
      check_close(dev.grads[i], ref.grads[i], c.backward, c.name + ": CUDA gradient of input " + std::to_string(i));
  }
  const BackendRun again = run_case_on(c, Device::CUDA, upstream);
  CHECK_MESSAGE(bitwise_equal(again.out, dev.out), c.name, ": a second CUDA run gave a different output");
  for (size_t i = 0; i < dev.grads.size(); ++i)
    if (dev.grads[i].defined())
      CHECK_MESSAGE(bitwise_equal(again.grads[i], dev.grads[i]), c.name, ": a second CUDA run gave a different gradient of input ", i);
}

// Reproducible inputs: standard normal, or uniform in [lo, hi) (for ops with a domain: log, sqrt).
inline Tensor random_input(const Shape& shape, DType dtype, uint64_t seed) {
  Generator g(seed);
  return randn(shape, {dtype}, &g);
}
inline Tensor random_uniform(const Shape& shape, DType dtype, double lo, double hi, uint64_t seed) {
  Generator g(seed);
  return rand(shape, {dtype}, &g) * (hi - lo) + lo;
}

// A few shapes every elementwise-like kernel must handle: odd sizes, a scalar, an empty tensor.
inline std::vector<Shape> odd_shapes() { return {{7}, {3, 5, 7}, {2, 1, 9, 4}, {}, {0, 4}, {1, 1}, {33, 65}}; }

inline std::string case_name(const std::string& op, const Shape& shape, DType dtype, const std::string& layout = "") {
  return op + " " + shape_str(shape) + " " + dtype_name(dtype) + (layout.empty() ? "" : " " + layout);
}

// The tolerance of a sum of K products (a GEMM, a convolution) against the CPU reference, which
// accumulates in double and rounds once. The CUDA kernels accumulate float32 in float32: each partial
// sum is rounded with relative error <= u = 2^-24, and for unit-normal operands (partial sums ~sqrt(k))
// the K roundings, of random sign, add up to an error of standard deviation ~u K / 2.5 (the worst
// case is ~u K^2). 4 u K (rtol and atol) is ~10 standard deviations, far below the O(1) error of a
// wrong element. Float64: the same with u = 2^-53 (both sides sum in double, in different orders).
inline Tolerance sum_tolerance(DType dtype, int64_t K) {
  const double u = dtype == DType::Float32 ? 0x1p-24 : 0x1p-53;
  const double t = 4 * u * double(K > 1 ? K : 1);
  return {t, t};
}

}  // namespace cxr::testing
