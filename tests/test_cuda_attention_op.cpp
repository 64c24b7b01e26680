// test_cuda_attention_op.cpp — the backend's scaled_dot_product_attention (cuda/attention.cu, the attention
// ladder's selected version behind the op) against the CPU reference of ops/attention.cpp, forward and the three
// gradients, then a second device run bit-identical (check_backend): v2 at the encoder's head size, v1 where v2
// cannot run (D > 64) and where CXR_CUDA_VERSION_ATTENTION names it, the encoder's (B, S, H, D) projections read
// through a permute, no mask; float64 is an error naming the op. Runs on a device (the emulator in
// make test-cuda-emulated).
#include <cmath>
#include <optional>

#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// Float32 sums of S products of O(1) values against the CPU's double: a few ulps times S (gradients
// sum twice, over keys and queries).
Tolerance attention_tolerance(int64_t S) { return {4e-7 * double(S) + 1e-5, 4e-7 * double(S) + 1e-6}; }

void check_attention(int64_t B, int64_t H, int64_t S, int64_t D, bool masked, bool bshd, uint64_t seed) {
  const Shape shape = bshd ? Shape{B, S, H, D} : Shape{B, H, S, D};
  Tensor keep = ones({B, S});
  if (S > 2) copy_(keep.select(0, B - 1).slice(0, S / 2, S), zeros({S - S / 2}));
  std::vector<Tensor> inputs = {random_input(shape, DType::Float32, seed), random_input(shape, DType::Float32, seed + 1),
                                random_input(shape, DType::Float32, seed + 2), (1.0 - keep) * -10000.0};
  const double scale = 1 / std::sqrt(double(D));
  BackendCase c{case_name("scaled_dot_product_attention", {B, H, S, D}, DType::Float32,
                          std::string(masked ? "masked" : "no mask") + (bshd ? " (B, S, H, D) permuted" : "")),
                inputs, [=](const std::vector<Tensor>& in) {
                  auto heads = [&](const Tensor& t) { return bshd ? t.permute({0, 2, 1, 3}) : t; };
                  return scaled_dot_product_attention(heads(in[0]), heads(in[1]), heads(in[2]),
                                                      masked ? in[3].detach() : Tensor(), scale);
                }};
  c.forward = c.backward = attention_tolerance(S);
  check_backend(c);
}

}  // namespace

TEST_CASE("cuda scaled_dot_product_attention: the ladder's best (v2) and v1 equal the CPU reference") {
  if (!cuda_ready()) return;
  ScopedEnv unset("CXR_CUDA_VERSION_ATTENTION", std::nullopt);
  check_attention(2, 3, 17, 16, true, false, 1);   // v2
  check_attention(2, 2, 33, 64, true, true, 4);    // v2 at the encoder's D, in place on (B, S, H, D)
  check_attention(1, 2, 9, 80, true, false, 7);    // D > 64: v1
  check_attention(1, 1, 1, 8, false, false, 10);   // one key
  {
    ScopedEnv v1("CXR_CUDA_VERSION_ATTENTION", "1");  // v1's backward reruns its forward for the probabilities
    check_attention(2, 3, 17, 16, true, true, 13);
  }
}

TEST_CASE("cuda scaled_dot_product_attention: float64 is an error naming the op") {
  if (!cuda_ready()) return;
  const Tensor q = zeros({1, 1, 4, 8}, {.dtype = DType::Float64, .device = Device::CUDA});
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, q, q, Tensor(), 1), doctest::Contains("float32 only"), Error);
}
