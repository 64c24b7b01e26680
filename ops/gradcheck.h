// gradcheck.h — audits an op's backward against float64 central finite differences.
//
// For f: inputs -> output, a fixed random upstream gradient v (seeded), and each input element
// x_i, the analytic value is (v^T J)_i from backward(), the numeric value is
//     (f(x + eps e_i) - f(x - eps e_i)) . v / (2 eps),
// and they must agree within |analytic - numeric| <= atol + rtol * |numeric|.
// Defaults follow torch.autograd.gradcheck: eps = 1e-6, atol = 1e-5, rtol = 1e-3. With float64
// the central difference is accurate to O(eps^2 f''') + O(1e-16 / eps), far inside atol.
//
// Kinks (relu at 0, |x| at 0, max with ties): there the one-sided differences
//     forward = (f(x+eps) - f(x)) . v / eps,   backward = (f(x) - f(x-eps)) . v / eps
// disagree by O(1) instead of O(eps). Such an element is counted as a kink and, instead of the
// central-difference test, the analytic value must lie between the two one-sided values (it must
// be a valid subgradient, e.g. relu'(0) = 0 lies in [0, v]). Tests that expect no kinks assert
// result.kinks == 0; tests of kinks place inputs on them on purpose.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  // An element is a kink when |forward - backward| > kink_tol * (1 + |forward| + |backward|).
  double kink_tol = 1e-3;
  uint64_t seed = 1234;  // for the upstream gradient v
};

struct GradcheckResult {
  bool ok = true;
  int64_t checked = 0;      // elements compared
  int64_t kinks = 0;        // elements found at a kink (checked as subgradients)
  double max_abs_error = 0;
  std::string message;      // the first failures, naming input, element, analytic and numeric
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Inputs that require grad must be float64; others (indices, masks) pass through unchanged.
// Inputs may be non-contiguous views: elements are perturbed through their strides.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions options = {});

}  // namespace cxr
