// test_attention.cpp — scaled_dot_product_attention (ops/attention.cpp) on the CPU: PyTorch parity
// (tests/goldens/attention.safetensors, tools/goldens/attention.py: masked, unmasked, and the
// encoder's (B, S, H, D) projections read through a permute), the fused op against the composite
// matmul(softmax(scale q k^T + mask), v) it replaces (values and autograd gradients, float64), a
// float64 gradcheck, the named backward's flags, and errors.
#include <cmath>

#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// The additive key mask of an int64 (B, S) keep tensor: 0 where kept, -10000 elsewhere.
Tensor key_mask_of(const Tensor& keep, DType dtype) { return (1.0 - keep.to(dtype)) * -10000.0; }

Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double scale) {
  Tensor scores = matmul(q, k.transpose(-1, -2)) * scale;
  if (mask.defined()) scores = scores + mask.view({mask.size(0), 1, 1, mask.size(1)});
  return matmul(softmax(scores, -1), v);
}

}  // namespace

TEST_CASE("scaled_dot_product_attention matches PyTorch (forward and gradients)") {
  // One float32 rounding of values computed in double against PyTorch's float32 chain.
  const Tolerance out{1e-5, 1e-6}, grad{1e-4, 1e-5};
  check_golden("attention", "attention.masked", [](auto& in) {
    return scaled_dot_product_attention(in[0], in[1], in[2], key_mask_of(in[3], DType::Float32), 1 / std::sqrt(5.0));
  }, out, grad);
  check_golden("attention", "attention.unmasked",
               [](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 0.3); }, out, grad);
  check_golden("attention", "attention.bshd", [](auto& in) {
    auto heads = [](const Tensor& t) { return t.permute({0, 2, 1, 3}); };
    return scaled_dot_product_attention(heads(in[0]), heads(in[1]), heads(in[2]), key_mask_of(in[3], DType::Float32),
                                        0.5);
  }, out, grad);
}

TEST_CASE("scaled_dot_product_attention equals the composite matmul-softmax-matmul, values and gradients") {
  const int64_t B = 2, H = 3, S = 6, D = 4;
  for (bool masked : {false, true}) {
    CAPTURE(masked);
    // q, k, v as the encoder has them: (B, S, H, D) viewed as (B, H, S, D).
    Tensor q0 = randn64({B, S, H, D}, 1), k0 = randn64({B, S, H, D}, 2), v0 = randn64({B, S, H, D}, 3);
    Tensor keep = ones({B, S}, {.dtype = DType::Int64});
    copy_(keep.select(0, 1).slice(0, 4, S), zeros({S - 4}, {.dtype = DType::Int64}));
    const Tensor mask = masked ? key_mask_of(keep, DType::Float64) : Tensor();
    auto run = [&](bool fused) {
      for (Tensor* t : {&q0, &k0, &v0}) t->zero_grad();
      auto heads = [](const Tensor& t) { return t.permute({0, 2, 1, 3}); };
      Tensor y = fused ? scaled_dot_product_attention(heads(q0), heads(k0), heads(v0), mask, 0.4)
                       : composite(heads(q0), heads(k0), heads(v0), mask, 0.4);
      Generator g(9);
      y.backward(randn(y.shape(), {.dtype = DType::Float64}, &g));
      return std::vector<Tensor>{y.detach(), q0.grad().clone(), k0.grad().clone(), v0.grad().clone()};
    };
    const std::vector<Tensor> fused = run(true), reference = run(false);
    const char* what[] = {"out", "grad q", "grad k", "grad v"};
    for (size_t i = 0; i < 4; ++i) check_close(fused[i], reference[i], {1e-10, 1e-12}, what[i]);
  }
}

TEST_CASE("scaled_dot_product_attention: float64 gradcheck, masked and strided") {
  Tensor q = randn64({2, 2, 5, 3}, 11), k = randn64({2, 2, 5, 3}, 12), v = randn64({2, 5, 2, 3}, 13);
  Tensor keep = ones({2, 5}, {.dtype = DType::Int64});
  copy_(keep.select(0, 0).slice(0, 3, 5), zeros({2}, {.dtype = DType::Int64}));
  const Tensor mask = key_mask_of(keep, DType::Float64);
  check_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2].permute({0, 2, 1, 3}), mask, 0.7); },
                  {q, k, v});
  check_gradcheck([&](auto& in) { return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), 1.3); },
                  {q, k, randn64({2, 2, 5, 3}, 14)});
}

TEST_CASE("scaled_dot_product_attention_backward computes only the gradients asked for") {
  Generator g(5);
  const Tensor q = randn({1, 2, 4, 3}, {.dtype = DType::Float64}, &g), k = randn({1, 2, 4, 3}, {.dtype = DType::Float64}, &g),
               v = randn({1, 2, 4, 3}, {.dtype = DType::Float64}, &g), gout = randn({1, 2, 4, 3}, {.dtype = DType::Float64}, &g);
  const Tensor out = scaled_dot_product_attention(q, k, v, Tensor(), 0.5);
  // lse recomputed through the composite: log sum_j exp(scale q k^T)
  const Tensor lse = logsumexp(matmul(q, k.transpose(-1, -2)) * 0.5, {-1});
  const AttentionGrads all = scaled_dot_product_attention_backward(gout, q, k, v, Tensor(), 0.5, out, lse);
  const AttentionGrads only_k =
      scaled_dot_product_attention_backward(gout, q, k, v, Tensor(), 0.5, out, lse, {false, true, false});
  CHECK(all.q.defined());
  CHECK(all.v.defined());
  CHECK_FALSE(only_k.q.defined());
  CHECK_FALSE(only_k.v.defined());
  REQUIRE(only_k.k.defined());
  check_close(only_k.k, all.k, {0, 0}, "grad k alone equals grad k of all three");
}

TEST_CASE("scaled_dot_product_attention: bad operands are errors naming the problem") {
  const Tensor q = zeros({1, 2, 3, 4}), k = zeros({1, 2, 3, 4});
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, zeros({1, 2, 3, 5}), Tensor(), 1), doctest::Contains("k and v must have q's shape"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(zeros({2, 3, 4}), zeros({2, 3, 4}), zeros({2, 3, 4}), Tensor(), 1),
                       doctest::Contains("(B, H, S, D)"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, k, zeros({1, 4}), 1), doctest::Contains("key_mask must be (B, S) = (1, 3)"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, k, zeros({1, 3}, {.requires_grad = true}), 1),
                       doctest::Contains("no gradient flows"), Error);
  CHECK_THROWS_WITH_AS(scaled_dot_product_attention(q, k, zeros({1, 2, 3, 4}, {.dtype = DType::Float64}), Tensor(), 1),
                       doctest::Contains("k and v must be float32"), Error);
}
