// test_linalg.cpp — matmul: PyTorch parity for every torch.matmul shape rule (tests/goldens/
// linalg.safetensors, from tools/goldens/linalg.py), float64 gradchecks including broadcast batch
// dims and non-contiguous operands, the bmm kernel on strided views, edge cases and error messages.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// float32 forward: the kernel accumulates in double and rounds once, PyTorch accumulates in float32,
// so the difference is PyTorch's rounding, about sqrt(K) * 6e-8 * sum|a b|: ~1e-6 for K <= 96 and
// unit-normal inputs. Gradients are products of the same kind (K = the summed dim, up to 2*3*4).
const Tolerance kMatmulF32{1e-5, 1e-5};
const Tolerance kMatmulF64{1e-12, 1e-12};
}  // namespace

TEST_CASE("matmul: PyTorch parity") {
  auto mm = [](auto& in) { return matmul(in[0], in[1]); };
  const std::vector<std::pair<const char*, OpFn>> cases = {
      {"matmul.dot", mm},
      {"matmul.vec_mat", mm},
      {"matmul.mat_vec", mm},
      {"matmul.mm", mm},
      {"matmul.mm_transposed", [](auto& in) { return matmul(in[0].t(), in[1].t()); }},
      {"matmul.bmm", mm},
      {"matmul.broadcast", mm},
      {"matmul.broadcast_ones", mm},
      {"matmul.batched_mat", mm},
      {"matmul.batched_mat_transposed", [](auto& in) { return matmul(in[0].transpose(-1, -2), in[1]); }},
      {"matmul.mat_batched", mm},
      {"matmul.vec_batched", mm},
      {"matmul.batched_vec", mm},
      {"matmul.batch_transposed", [](auto& in) { return matmul(in[0].transpose(-1, -2), in[1].permute({1, 2, 0})); }},
      {"matmul.large_k", mm},
  };
  for (const auto& [name, fn] : cases) {
    SUBCASE(name) { check_golden("linalg", name, fn, kMatmulF32, kMatmulF32); }
  }
  SUBCASE("matmul.f64") { check_golden("linalg", "matmul.f64", mm, kMatmulF64, kMatmulF64); }
}

TEST_CASE("matmul: output shapes follow torch.matmul") {
  auto shape_of = [](const Shape& a, const Shape& b) { return matmul(zeros(a), zeros(b)).shape(); };
  CHECK(shape_of({3}, {3}) == Shape{});
  CHECK(shape_of({3}, {3, 4}) == Shape{4});
  CHECK(shape_of({2, 3}, {3}) == Shape{2});
  CHECK(shape_of({5, 2, 3}, {3}) == Shape{5, 2});
  CHECK(shape_of({3}, {5, 3, 4}) == Shape{5, 4});
  CHECK(shape_of({2, 1, 4, 3}, {5, 3, 6}) == Shape{2, 5, 4, 6});
  CHECK(shape_of({2, 3}, {7, 1, 3, 4}) == Shape{7, 1, 2, 4});
}

TEST_CASE("matmul: gradcheck over every shape rule, with broadcast and non-contiguous operands") {
  auto mm = [](auto& in) { return matmul(in[0], in[1]); };
  check_gradcheck(mm, {randn64({4}, 1), randn64({4}, 2)});
  check_gradcheck(mm, {randn64({3}, 3), randn64({3, 2}, 4)});
  check_gradcheck(mm, {randn64({2, 3}, 5), randn64({3}, 6)});
  check_gradcheck(mm, {randn64({2, 3}, 7), randn64({3, 4}, 8)});
  check_gradcheck(mm, {randn64({2, 2, 3}, 9), randn64({2, 3, 2}, 10)});
  check_gradcheck(mm, {randn64({2, 1, 2, 3}, 11), randn64({3, 3, 2}, 12)});  // broadcast both ways
  check_gradcheck(mm, {randn64({2, 2, 3}, 13), randn64({3, 2}, 14)});        // folded (N-D)·(2-D)
  check_gradcheck(mm, {randn64({2, 3}, 15), randn64({2, 3, 2}, 16)});        // (2-D)·(N-D): ga summed
  check_gradcheck(mm, {randn64({3}, 17), randn64({2, 3, 2}, 18)});
  check_gradcheck(mm, {randn64({2, 2, 3}, 19), randn64({3}, 20)});
  // Non-contiguous: views taken inside fn, and leaves that are themselves transposed views.
  check_gradcheck([](auto& in) { return matmul(in[0].t(), in[1].transpose(0, 1)); },
                  {randn64({3, 2}, 21), randn64({4, 3}, 22)});
  check_gradcheck([](auto& in) { return matmul(in[0].transpose(-1, -2), in[1].slice(1, 0, 6, 2)); },
                  {randn64({2, 3, 2}, 23), randn64({2, 6, 2}, 24)});
  Tensor at = randn64({3, 2}, 25).detach().t().requires_grad_();   // (2, 3), strides (1, 2)
  Tensor bt = randn64({3, 2, 2}, 26).detach().permute({2, 0, 1}).requires_grad_();  // (2, 3, 2)
  REQUIRE(!at.is_contiguous());
  REQUIRE(!bt.is_contiguous());
  check_gradcheck(mm, {at, bt});
  // Upstream gradients that are broadcast (stride-0) views, as a following sum produces.
  check_gradcheck([](auto& in) { return sum(matmul(in[0], in[1]), {-1}); }, {randn64({2, 2, 3}, 29), randn64({3, 2}, 30)});
  check_gradcheck([](auto& in) { return sum(matmul(in[0], in[1])); }, {randn64({2, 3}, 31), randn64({2, 3, 2}, 32)});
  // Only one operand requires grad.
  Tensor fixed = randn64({3, 2}, 27).detach();
  check_gradcheck([&](auto& in) { return matmul(in[0], fixed); }, {randn64({2, 2, 3}, 28)});
}

TEST_CASE("matmul: the bmm kernel reads transposed and broadcast operands through their strides") {
  Generator gen(40);
  Tensor a = randn({2, 4, 3}, {.dtype = DType::Float64}, &gen);  // read as (2, 3, 4)
  Tensor b = randn({4, 5}, {.dtype = DType::Float64}, &gen);     // broadcast over the batch
  Tensor at = a.transpose(1, 2), bx = b.unsqueeze(0).expand({2, 4, 5});
  REQUIRE(bx.stride(0) == 0);
  Tensor out = empty({2, 3, 5}, {.dtype = DType::Float64});
  bmm_kernel(Device::CPU)(at, bx, out);
  // Reference: the same products through elementwise mul and sum, from contiguous copies.
  Tensor ref = sum(at.contiguous().unsqueeze(3) * bx.contiguous().unsqueeze(1), {2});
  check_close(out, ref, {1e-14, 1e-14}, "bmm on strided views");
}

TEST_CASE("matmul: the reference kernel accumulates float32 wider than float32") {
  // 1e4 + 999 * 1e-4: in a float32 accumulator each 1e-4 step is below half an ulp of 1e4 (~5e-4)
  // and is lost; a double accumulator keeps them and rounds 10000.0999 once. A property of the
  // reference kernel only: the fast one (tensor/cpu/gemm.h) accumulates in float32, as PyTorch does.
  ScopedCpuKernels reference(CpuKernels::Reference);
  const int64_t K = 1000;
  Tensor a = full({1, K}, 1.0), b = full({K, 1}, 1e-4);
  a.set({0, 0}, 1e4);
  b.set({0, 0}, 1.0);
  double expected = 1e4 + double(K - 1) * double(float(1e-4));
  CHECK(std::fabs(matmul(a, b).item() - expected) < 1e-3);
}

TEST_CASE("matmul: empty dims") {
  Tensor a = zeros({3, 0}, {.requires_grad = true}), b = zeros({0, 2}, {.requires_grad = true});
  Tensor out = matmul(a, b);
  CHECK(out.shape() == Shape{3, 2});
  CHECK(out.to_vector() == std::vector<double>(6, 0.0));  // an empty sum is 0
  sum(out).backward();
  CHECK(a.grad().shape() == Shape{3, 0});
  CHECK(b.grad().shape() == Shape{0, 2});
  CHECK(matmul(zeros({0, 3}), zeros({3, 4})).shape() == Shape{0, 4});
  CHECK(matmul(zeros({2, 0, 3}), zeros({3, 4})).shape() == Shape{2, 0, 4});
}

TEST_CASE("matmul: errors name the op and the shapes") {
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 3}), zeros({4, 5})),
                       doctest::Contains("matmul: inner dimensions differ: a [2, 3] vs b [4, 5]"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({3}), zeros({4})), doctest::Contains("a [3] vs b [4]"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2, 3}), zeros({3, 3, 4})), doctest::Contains("matmul: batch dims of a [2, 2, 3] and b [3, 3, 4] do not broadcast"), Error);
  Tensor i = zeros({2, 2}, {.dtype = DType::Int64});
  CHECK_THROWS_WITH_AS(matmul(i, i), doctest::Contains("matmul: expected floating tensors"), Error);
  CHECK_THROWS_WITH_AS(matmul(i, i), doctest::Contains("int64"), Error);
  CHECK_THROWS_WITH_AS(matmul(zeros({2, 2}), zeros({2, 2}, {.dtype = DType::Float64})),
                       doctest::Contains("matmul: dtype mismatch: float32 [2, 2] vs float64 [2, 2]"), Error);
  CHECK_THROWS_WITH_AS(matmul(scalar_tensor(1), zeros({2})), doctest::Contains("matmul: both operands need at least 1 dim"),
                       Error);
  CHECK_THROWS_WITH_AS(matmul_backward(zeros({2, 2}), zeros({2, 3}), zeros({3, 4})),
                       doctest::Contains("matmul_backward: gradient of shape [2, 2] for an output of shape [2, 4]"), Error);
}
