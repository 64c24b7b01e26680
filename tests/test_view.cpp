// test_view.cpp — views and copies as differentiable ops: PyTorch parity
// (tests/goldens/view.safetensors, from tools/goldens/view.py) and float64 gradchecks.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// The fixture multiplies each view by a ramp 1/n, 2/n, ... so that every gradient element differs.
Tensor ramp(const Tensor& t) {
  return t * (arange(1, double(t.numel()) + 1, 1, {.dtype = t.dtype()}).reshape(t.shape()) / double(t.numel()));
}
}  // namespace

TEST_CASE("views: PyTorch parity") {
  const Tolerance tol{1e-6, 1e-7};
  const std::vector<std::pair<const char*, OpFn>> cases = {
      {"reshape", [](auto& in) { return ramp(in[0].reshape({4, -1})); }},
      {"reshape.noncontiguous", [](auto& in) { return ramp(in[0].t().reshape({-1})); }},
      {"view.split_dim", [](auto& in) { return ramp(in[0].view({2, 3, 2, 2})); }},
      {"permute", [](auto& in) { return ramp(in[0].permute({2, 0, 1})); }},
      {"transpose", [](auto& in) { return ramp(in[0].transpose(0, 2)); }},
      {"narrow", [](auto& in) { return ramp(in[0].narrow(1, 1, 2)); }},
      {"slice.step", [](auto& in) { return ramp(in[0].slice(1, 1, 5, 2)); }},
      {"select.negative", [](auto& in) { return ramp(in[0].select(1, -1)); }},
      {"expand", [](auto& in) { return ramp(in[0].expand({2, 3, 4})); }},
      {"squeeze", [](auto& in) { return ramp(in[0].squeeze()); }},
      {"squeeze.dim", [](auto& in) { return ramp(in[0].squeeze(1)); }},
      {"unsqueeze", [](auto& in) { return ramp(in[0].unsqueeze(-1)); }},
      {"flatten", [](auto& in) { return ramp(in[0].flatten(1, 2)); }},
      {"contiguous", [](auto& in) { return ramp(in[0].t().contiguous()); }},
      {"clone", [](auto& in) { return ramp(in[0].clone()); }},
      {"to_float64", [](auto& in) { return ramp(in[0].to(DType::Float64)); }},
  };
  for (const auto& [name, fn] : cases) {
    SUBCASE(name) { check_golden("view", name, fn, tol, tol); }
  }
}

TEST_CASE("views: gradcheck of every view and copy") {
  Tensor x = randn64({2, 3, 4}, 1);
  check_gradcheck([](auto& in) { return ramp(in[0].reshape({4, -1})); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].view({6, 4})); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].permute({2, 0, 1}).reshape({-1})); }, {x});  // copy path
  check_gradcheck([](auto& in) { return ramp(in[0].transpose(-1, 0)); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].narrow(2, 1, 2)); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].slice(2, 0, 4, 3)); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].select(0, 1)); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].flatten()); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].unsqueeze(1).squeeze(1)); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].t().contiguous()); }, {randn64({3, 2}, 2)});
  check_gradcheck([](auto& in) { return ramp(in[0].clone()); }, {x});
  check_gradcheck([](auto& in) { return ramp(in[0].to(DType::Float32).to(DType::Float64)); }, {x},
                  0, {.eps = 1e-2, .atol = 1e-4, .rtol = 1e-3});  // float32 resolution: a wider eps
  Tensor col = randn64({3, 1}, 3);
  check_gradcheck([](auto& in) { return ramp(in[0].expand({2, 3, 4})); }, {col});
  // Views of views of a non-contiguous base.
  check_gradcheck([](auto& in) { return ramp(in[0].t().slice(0, 1, 3).select(1, 0)); }, {randn64({3, 4}, 4)});
}
