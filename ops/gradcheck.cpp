// gradcheck.cpp — see gradcheck.h for the method and the tolerances.
#include "ops/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/random.h"
#include "tensor/strided_loop.h"

namespace cxr {

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opt) {
  GradcheckResult result;
  std::ostringstream failures;
  int reported = 0;

  // Analytic: one backward of sum(f(x) * v).
  for (const Tensor& x : inputs) {
    if (!x.defined() || !x.requires_grad()) continue;
    CXR_CHECK(x.dtype() == DType::Float64, "gradcheck: inputs that require grad must be float64, got ",
              dtype_name(x.dtype()), " ", shape_str(x.shape()));
    CXR_CHECK(x.is_leaf(), "gradcheck: inputs must be leaves (make views inside fn)");
    const_cast<Tensor&>(x).zero_grad();
  }
  Tensor out = fn(inputs);
  CXR_CHECK(out.dtype() == DType::Float64, "gradcheck: fn must return float64, got ", dtype_name(out.dtype()));
  Generator gen(opt.seed);
  Tensor v = randn(out.shape(), {.dtype = DType::Float64}, &gen);
  out.backward(v);

  auto dot_v = [&](const Tensor& y) {
    NoGradGuard no_grad;
    return sum(y * v).item();
  };

  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor analytic = x.grad();
    std::vector<double> ga = analytic.defined() ? analytic.to_vector() : std::vector<double>(x.numel(), 0.0);
    // Walk x's elements through its strides, perturbing storage in place.
    double* base = x.data<double>();
    int64_t i = 0;
    for_each_offset<1>(x.shape(), {x.strides()}, [&](const Offsets<1>& o) {
      double saved = base[o[0]];
      double f0, fp, fm;
      {
        NoGradGuard no_grad;
        base[o[0]] = saved + opt.eps;
        fp = dot_v(fn(inputs));
        base[o[0]] = saved - opt.eps;
        fm = dot_v(fn(inputs));
        base[o[0]] = saved;
        f0 = dot_v(fn(inputs));
      }
      double central = (fp - fm) / (2 * opt.eps);
      double forward = (fp - f0) / opt.eps, backward = (f0 - fm) / opt.eps;
      double a = ga[i];
      bool kink = std::fabs(forward - backward) > opt.kink_tol * (1 + std::fabs(forward) + std::fabs(backward));
      bool good;
      double err;
      if (kink) {
        ++result.kinks;
        double lo = std::min(forward, backward), hi = std::max(forward, backward);
        err = a < lo ? lo - a : a > hi ? a - hi : 0.0;
        good = err <= opt.atol + opt.rtol * std::max(std::fabs(lo), std::fabs(hi));
      } else {
        err = std::fabs(a - central);
        good = err <= opt.atol + opt.rtol * std::fabs(central);
      }
      if (!std::isfinite(a) || !std::isfinite(central)) good = false;
      ++result.checked;
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (!good) {
        result.ok = false;
        if (reported++ < 5)
          failures << "input " << k << " element " << i << ": analytic " << a << " vs numeric " << central
                   << (kink ? " (kink: one-sided " + std::to_string(backward) + " / " + std::to_string(forward) + ")" : "")
                   << "\n";
      }
      ++i;
    });
  }
  for (const Tensor& x : inputs)  // leave the inputs as they came: no gradient from this audit
    if (x.defined() && x.requires_grad()) const_cast<Tensor&>(x).zero_grad();
  result.message = failures.str();
  return result;
}

}  // namespace cxr
