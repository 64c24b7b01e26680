// harness.cpp — the parts of cxr-kernels' harness (harness.h) that the tests link too: the
// registry of op families, the choice of versions to run, and the check of a version's output
// against the CPU reference.
#include "bench/cuda/harness.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tensor/error.h"

namespace cxr::bench {

std::vector<Family>& families() {
  static std::vector<Family> all;
  return all;
}

std::vector<int> versions_to_run(const cuda::KernelLadder& ladder, const std::vector<int>& requested) {
  std::vector<int> out;
  for (int n : requested) {
    bool known = false;
    for (const cuda::KernelVersion& v : ladder.versions) known = known || v.number == n;
    CXR_CHECK(known, "--version ", n, ": ", ladder.op, " has no such version; its versions are ",
              cuda::version_list(ladder));
    out.push_back(n);
  }
  if (!out.empty()) return out;
  const char* env = std::getenv(cuda::version_variable(ladder).c_str());
  if (env != nullptr && *env != '\0') return {cuda::selected_version(ladder)};
  for (const cuda::KernelVersion& v : ladder.versions) out.push_back(v.number);
  return out;
}

CheckResult check_against_reference(const Tensor& output, const Tensor& reference, Tolerance tol) {
  CheckResult r;
  CXR_CHECK(output.shape() == reference.shape(), "check: output shape ", shape_str(output.shape()),
            " vs reference ", shape_str(reference.shape()));
  const std::vector<double> out = output.to_vector(), ref = reference.to_vector();
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(ref[i])) {
      ++r.non_finite_reference;
      continue;
    }
    ++r.checked;
    const double err = std::abs(out[i] - ref[i]);
    r.max_abs_error = std::max(r.max_abs_error, err);
    if (ref[i] != 0) r.max_rel_error = std::max(r.max_rel_error, err / std::abs(ref[i]));
    if (!(err <= tol.atol + tol.rtol * std::abs(ref[i]))) {
      if (r.bad++ == 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "index %zu: %.8g vs reference %.8g", i, out[i], ref[i]);
        r.first_bad = buf;
      }
    }
  }
  r.ok = r.bad == 0;
  return r;
}

}  // namespace cxr::bench
