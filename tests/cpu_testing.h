// cpu_testing.h — helpers for testing the fast CPU kernels (tensor/cpu/) against the reference
// kernels: every (instruction set, thread count) configuration the machine supports, random
// tensors in contiguous and non-contiguous layouts, and the two comparisons every test makes:
//   check_within(fast, reference, bound)   |fast - reference| <= bound elementwise
//   check_identical(x, y)                   bit-for-bit equal (the same kernel on 1 and 2 threads)
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "tensor/cpu/runtime.h"
#include "testing.h"

namespace cxr::testing {

struct CpuConfig {
  cpu::Isa isa;
  int threads;
  std::string name() const { return std::string(cpu::isa_name(isa)) + ", " + std::to_string(threads) + " thread(s)"; }
};

// Every instruction set up to the detected one, each with 1 and 2 threads.
inline std::vector<CpuConfig> cpu_configs() {
  std::vector<CpuConfig> out;
  for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512})
    if (isa <= cpu::detected_isa())
      for (int threads : {1, 2}) out.push_back({isa, threads});
  return out;
}

// Sets an instruction set and thread count for a scope, restoring the previous ones after.
class ScopedCpuConfig {
 public:
  explicit ScopedCpuConfig(CpuConfig c) : isa_(cpu::cpu_isa()), threads_(cpu::num_threads()) {
    cpu::set_cpu_isa(c.isa);
    cpu::set_num_threads(c.threads);
  }
  ~ScopedCpuConfig() {
    cpu::set_cpu_isa(isa_);
    cpu::set_num_threads(threads_);
  }
  ScopedCpuConfig(const ScopedCpuConfig&) = delete;
  ScopedCpuConfig& operator=(const ScopedCpuConfig&) = delete;

 private:
  cpu::Isa isa_;
  int threads_;
};

// Memory layouts a kernel must read correctly.
enum class Layout { Contiguous, Transposed, Strided, Offset };
inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous:
      return "contiguous";
    case Layout::Transposed:
      return "transposed";
    case Layout::Strided:
      return "strided";
    case Layout::Offset:
      return "offset";
  }
  return "?";
}
inline constexpr Layout kLayouts[] = {Layout::Contiguous, Layout::Transposed, Layout::Strided, Layout::Offset};

// A random N(0, 1) tensor of `shape` (rank >= 2 for Transposed) in the given layout:
//   Transposed: the last two dims swapped in memory; Strided: every other element of the last dim
//   of a wider tensor; Offset: a view starting one element into its storage.
inline Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, Layout layout = Layout::Contiguous) {
  Generator g(seed);
  TensorOptions o{.dtype = dtype};
  switch (layout) {
    case Layout::Contiguous:
      return randn(shape, o, &g);
    case Layout::Transposed: {
      Shape s = shape;
      std::swap(s[s.size() - 1], s[s.size() - 2]);
      return randn(s, o, &g).transpose(-1, -2);
    }
    case Layout::Strided: {
      Shape s = shape;
      s.back() *= 2;
      return randn(s, o, &g).slice(-1, 0, s.back(), 2);
    }
    case Layout::Offset: {
      Tensor flat = randn({shape_numel(shape) + 1}, o, &g);
      return flat.narrow(0, 1, shape_numel(shape)).view(shape);
    }
  }
  return Tensor();
}

// |actual - expected| <= bound elementwise (bound: a tensor of expected's shape, or a scalar).
inline void check_within(const Tensor& actual, const Tensor& expected, const Tensor& bound, const std::string& what) {
  INFO(what);
  REQUIRE_MESSAGE(actual.shape() == expected.shape(), "shape ", shape_str(actual.shape()), " vs expected ",
                  shape_str(expected.shape()));
  std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  std::vector<double> b = bound.numel() == 1 ? std::vector<double>(a.size(), bound.item()) : bound.to_vector();
  size_t bad = 0, first = 0;
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] == e[i] || (std::isnan(a[i]) && std::isnan(e[i]))) continue;  // equal (infinities too)
    const double d = std::fabs(a[i] - e[i]);
    if (!(d <= b[i])) {
      if (bad++ == 0) first = i;
      worst = std::max(worst, d / b[i]);
    }
  }
  CHECK_MESSAGE(bad == 0, bad, " of ", a.size(), " elements outside the bound; first at flat index ", first, " (got ",
                a.empty() ? 0 : a[first], ", expected ", e.empty() ? 0 : e[first], ", bound ", b.empty() ? 0 : b[first],
                "); worst |diff|/bound = ", worst);
}

inline void check_within(const Tensor& actual, const Tensor& expected, double bound, const std::string& what) {
  check_within(actual, expected, scalar_tensor(bound, {.dtype = DType::Float64}), what);
}

// Bit-for-bit equality of two tensors of the same shape and dtype (read row-major).
inline void check_identical(const Tensor& x, const Tensor& y, const std::string& what) {
  INFO(what);
  REQUIRE(x.shape() == y.shape());
  REQUIRE(x.dtype() == y.dtype());
  Tensor a = x.contiguous(), b = y.contiguous();
  CHECK_MESSAGE(std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * dtype_size(a.dtype())) == 0,
                "results differ (max |diff| ", max_abs_diff(a, b), ")");
}

// Unit roundoff of a floating dtype.
inline double unit_roundoff(DType t) { return t == DType::Float32 ? 5.96e-8 : 1.12e-16; }

}  // namespace cxr::testing
