// test_autograd.cpp — the tape and the backward walk: accumulation rules, retain_graph, freed
// graphs, no_grad, detach, views of leaves, deep graphs, and that gradcheck catches wrong backwards.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("autograd: scalar backward and the chain rule") {
  Tensor x = tensor({1.0, 2.0, 3.0}, {.dtype = DType::Float64}).requires_grad_();
  Tensor y = sum(x * x * x);  // dy/dx = 3 x^2
  CHECK(y.grad_fn() != nullptr);
  CHECK(std::string(y.grad_fn()->name()) == "sum_backward");
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{3, 12, 27});
}

TEST_CASE("autograd: parameters accumulate, activations are assigned") {
  Tensor w = tensor({2.0}, {.dtype = DType::Float64}).requires_grad_();
  Tensor h = w * 3.0;  // an activation
  Tensor loss = sum(h * h);
  loss.backward();
  CHECK(w.grad().item() == doctest::Approx(36.0));  // d(9w^2)/dw = 18w
  CHECK(!h.grad().defined());                        // non-leaves keep no .grad
  // A second backward through a new graph adds to the leaf's gradient.
  sum(w * 5.0).backward();
  CHECK(w.grad().item() == doctest::Approx(41.0));
  w.zero_grad();
  CHECK(!w.grad().defined());
  sum(w * 5.0).backward();
  CHECK(w.grad().item() == doctest::Approx(5.0));
}

TEST_CASE("autograd: a tensor used several times sums its gradients") {
  Tensor x = tensor({1.5}, {.dtype = DType::Float64}).requires_grad_();
  Tensor a = x * 2.0, b = x * x, c = exp(x);
  sum(a + b + c + x).backward();  // 2 + 2x + e^x + 1
  CHECK(x.grad().item() == doctest::Approx(2 + 3.0 + std::exp(1.5) + 1));
}

TEST_CASE("autograd: explicit upstream gradient and its checks") {
  Tensor x = randn64({2, 3}, 1);
  Tensor y = x * 2.0;
  Tensor g = from_vector({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = DType::Float64});
  y.backward(g);
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6, 8, 10, 12});
  Tensor z = x * 2.0;
  CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("implicit gradient needs a one-element output"), Error);
  CHECK_THROWS_WITH_AS(z.backward(ones({3, 2}, {.dtype = DType::Float64})),
                       doctest::Contains("gradient shape [3, 2] does not match"), Error);
  CHECK_THROWS_WITH_AS(z.backward(ones({2, 3})), doctest::Contains("dtype"), Error);
  CHECK_THROWS_WITH_AS(ones({1}).backward(), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("autograd: retain_graph and the freed-graph error") {
  Tensor x = randn64({3}, 2);
  Tensor y = sum(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  Tensor first = x.grad().clone();
  y.backward();  // allowed: the graph was retained; gradients accumulate
  CHECK(allclose(x.grad(), first * 2.0));
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("backward through the graph a second time"), Error);
  // The freed node also dropped its saved tensors.
  CHECK(y.grad_fn()->released());
}

TEST_CASE("autograd: no_grad and detach record nothing") {
  Tensor x = randn64({3}, 3);
  {
    NoGradGuard no_grad;
    Tensor y = x * 2.0;
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
  }
  CHECK((x * 2.0).requires_grad());
  Tensor d = x.detach();
  CHECK(!d.requires_grad());
  CHECK(d.impl()->storage == x.impl()->storage);
  Tensor y = x * d;  // d is a constant
  sum(y).backward();
  CHECK(allclose(x.grad(), d));
}

TEST_CASE("autograd: requires_grad_ only on leaves") {
  Tensor x = randn64({2}, 4);
  Tensor y = x * 2.0;
  CHECK(!y.is_leaf());
  CHECK_THROWS_WITH_AS(y.requires_grad_(), doctest::Contains("only leaf tensors"), Error);
}

TEST_CASE("autograd: gradients flow through views of a leaf and reach its shape") {
  Tensor w = randn64({2, 3}, 5);
  Tensor b = randn64({3}, 6);
  Tensor y = sum(w.t().select(1, 1) * 2.0) + sum(w + b);  // b broadcast over rows
  y.backward();
  CHECK(w.grad().shape() == Shape{2, 3});
  CHECK(w.grad().to_vector() == std::vector<double>{1, 1, 1, 3, 3, 3});
  CHECK(b.grad().to_vector() == std::vector<double>{2, 2, 2});
}

TEST_CASE("autograd: a graph 200000 ops deep backpropagates and frees without recursion") {
  Tensor x = tensor({1.0}, {.dtype = DType::Float64}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 200000; ++i) y = y * 1.0;
  y.backward();
  CHECK(x.grad().item() == 1.0);
  y = Tensor();  // dropping the last handle frees the whole chain
}

// A deliberately wrong backward: d(x^2)/dx reported as 3x.
struct WrongSquareBackward final : Node {
  const char* name() const override { return "wrong_square_backward"; }
  TensorList backward(const Tensor& g) override { return {g * saved(0) * 3.0}; }
};
static Tensor wrong_square(const Tensor& x) {
  Tensor out;
  {
    NoGradGuard no_grad;
    out = x * x;
  }
  record_op<WrongSquareBackward>(out, {x}, {x});
  return out;
}

TEST_CASE("gradcheck: catches a wrong backward and names the element") {
  Tensor x = randn64({4}, 7);
  GradcheckResult r = gradcheck([](auto& in) { return wrong_square(in[0]); }, {x});
  CHECK(!r.ok);
  CHECK(r.message.find("input 0 element 0") != std::string::npos);
  GradcheckResult good = gradcheck([](auto& in) { return in[0] * in[0]; }, {x});
  CHECK(good.ok);
  CHECK(good.checked == 4);
  CHECK(good.kinks == 0);
  CHECK(good.max_abs_error < 1e-8);
}

TEST_CASE("gradcheck: a wrong subgradient at a kink fails") {
  // relu at 0 with gradient reported as 2 (outside [0, 1]) must fail; 0 and 1 are fine.
  Tensor x = from_vector({0.0}, {1}, {.dtype = DType::Float64}).requires_grad_();
  struct BadReluBackward final : Node {
    const char* name() const override { return "bad_relu_backward"; }
    TensorList backward(const Tensor& g) override { return {g * 2.0}; }
  };
  auto bad_relu = [](const std::vector<Tensor>& in) {
    Tensor out;
    {
      NoGradGuard no_grad;
      out = relu(in[0]);
    }
    record_op<BadReluBackward>(out, {in[0]}, {});
    return out;
  };
  GradcheckResult r = gradcheck(bad_relu, {x});
  CHECK(!r.ok);
  CHECK(r.kinks == 1);
  CHECK(r.message.find("kink") != std::string::npos);
}

TEST_CASE("gradcheck: rejects float32 inputs") {
  Tensor x = randn({3}).requires_grad_();
  CHECK_THROWS_WITH_AS(gradcheck([](auto& in) { return in[0]; }, {x}), doctest::Contains("must be float64"), Error);
}
