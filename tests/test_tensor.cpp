// test_tensor.cpp — Tensor basics: creation, views share storage, strides, copies, dtype
// conversion, element access, printing, random determinism, and error messages.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("creation: zeros, ones, full, arange, eye, from_vector") {
  Tensor z = zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.dtype() == DType::Float32);
  CHECK(z.strides() == Strides{3, 1});
  CHECK(z.to_vector() == std::vector<double>(6, 0.0));
  CHECK(ones({4}, {.dtype = DType::Int64}).to_vector() == std::vector<double>(4, 1.0));
  CHECK(full({2}, 2.5, {.dtype = DType::Float64}).to_vector() == std::vector<double>{2.5, 2.5});
  CHECK(arange(0, 5).to_vector() == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(arange(1, 2, 0.25).numel() == 4);
  CHECK(arange(5, 0).numel() == 0);
  CHECK(eye(3).to_vector() == std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  Tensor v = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.at({1, 2}) == 6);
  CHECK(scalar_tensor(3).dim() == 0);
  CHECK(scalar_tensor(3).item() == 3);
  CHECK_THROWS_WITH_AS(from_vector({1, 2, 3}, {2, 2}), doctest::Contains("do not fill shape [2, 2]"), Error);
  CHECK_THROWS_WITH_AS(zeros({2, -1}), doctest::Contains("negative size"), Error);
}

TEST_CASE("random: seeded, counter-based, and well distributed") {
  Generator g1(42), g2(42), g3(7);
  Tensor a = randn({1000}, {}, &g1), b = randn({1000}, {}, &g2), c = randn({1000}, {}, &g3);
  CHECK(a.to_vector() == b.to_vector());
  CHECK(a.to_vector() != c.to_vector());
  // Counter-based: drawing 1000 at once equals drawing 400 then 600.
  Generator g4(42);
  Tensor first = randn({400}, {}, &g4), second = randn({600}, {}, &g4);
  std::vector<double> joined = first.to_vector();
  for (double x : second.to_vector()) joined.push_back(x);
  CHECK(joined == a.to_vector());
  // Moments of 100k draws.
  Generator g5(1);
  Tensor n = randn({100000}, {.dtype = DType::Float64}, &g5);
  CHECK(std::fabs(mean(n).item()) < 0.02);
  CHECK(std::fabs(mean(n * n).item() - 1.0) < 0.02);
  Tensor u = rand({100000}, {.dtype = DType::Float64}, &g5);
  CHECK(std::fabs(mean(u).item() - 0.5) < 0.01);
  std::vector<double> uv = u.to_vector();
  CHECK(*std::min_element(uv.begin(), uv.end()) >= 0.0);
  CHECK(*std::max_element(uv.begin(), uv.end()) < 1.0);
  Tensor r = randint(3, 7, {10000}, {.dtype = DType::Int64}, &g5);
  std::vector<double> rv = r.to_vector();
  CHECK(*std::min_element(rv.begin(), rv.end()) == 3);
  CHECK(*std::max_element(rv.begin(), rv.end()) == 6);
  // The global generator is reset by manual_seed.
  manual_seed(5);
  Tensor s1 = rand({8});
  manual_seed(5);
  CHECK(rand({8}).to_vector() == s1.to_vector());
}

TEST_CASE("philox4x32: known-answer vectors of Random123") {
  // Random123's kat_vectors: philox4x32_10 with counter 0 and key 0.
  auto w = philox4x32(0, 0);
  CHECK(w[0] == 0x6627e8d5u);
  CHECK(w[1] == 0xe169c58du);
  CHECK(w[2] == 0xbc57ac4cu);
  CHECK(w[3] == 0x9b00dbd8u);
}

TEST_CASE("views share storage and have the right strides") {
  Tensor x = arange(0, 24).reshape({2, 3, 4});
  CHECK(x.is_contiguous());
  Tensor p = x.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Strides{1, 12, 4});
  CHECK(!p.is_contiguous());
  CHECK(p.at({3, 1, 2}) == x.at({1, 2, 3}));
  Tensor t = x.transpose(0, 2);
  CHECK(t.at({3, 2, 1}) == 23);
  Tensor n = x.narrow(2, 1, 2);
  CHECK(n.shape() == Shape{2, 3, 2});
  CHECK(n.at({1, 2, 0}) == 21);
  Tensor s = x.slice(2, 0, 4, 2);
  CHECK(s.to_vector() == std::vector<double>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22});
  Tensor sel = x.select(1, -1);
  CHECK(sel.shape() == Shape{2, 4});
  CHECK(sel.at({1, 0}) == 20);
  Tensor e = tensor({1, 2, 3}).unsqueeze(0).expand({4, 3});
  CHECK(e.strides() == Strides{0, 1});
  CHECK(e.at({3, 2}) == 3);
  CHECK(x.flatten(1).shape() == Shape{2, 12});
  CHECK(x.flatten().shape() == Shape{24});
  CHECK(x.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(-1).squeeze().shape() == Shape{2, 3, 4});
  CHECK(x.view({6, -1}).shape() == Shape{6, 4});
  // Writing through a view changes the base.
  sel.set({0, 0}, 100);
  CHECK(x.at({0, 2, 0}) == 100);
  // view of a non-contiguous tensor fails where a copy is needed; reshape copies.
  CHECK_THROWS_WITH_AS(p.view({24}), doctest::Contains("without a copy"), Error);
  Tensor r = p.reshape({24});
  CHECK(r.is_contiguous());
  CHECK(r.at({1}) == x.at({0, 1, 0}));  // p[0][0][1] = x[0][1][0]
  // A view that only splits a contiguous chunk works without copying.
  Tensor q = x.transpose(0, 1).view({3, 2, 2, 2});
  CHECK(q.impl()->storage == x.impl()->storage);
}

TEST_CASE("copies: contiguous, clone, to(dtype)") {
  Tensor x = arange(0, 6).reshape({2, 3});
  Tensor xt = x.t();
  Tensor c = xt.contiguous();
  CHECK(c.is_contiguous());
  CHECK(c.impl()->storage != x.impl()->storage);
  CHECK(c.to_vector() == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(x.contiguous().same(x));
  Tensor cl = x.clone();
  cl.set({0, 0}, 9);
  CHECK(x.at({0, 0}) == 0);
  Tensor d = tensor({1.5, -2.7, 3.2}).to(DType::Int64);
  CHECK(d.dtype() == DType::Int64);
  CHECK(d.to_vector() == std::vector<double>{1, -2, 3});
  CHECK(tensor({0, 2}).to(DType::Bool).to_vector() == std::vector<double>{0, 1});
  // NaN and huge values convert to int64 without undefined behaviour.
  CHECK(tensor({NAN, 1e300}).to(DType::Float64).to(DType::Int64).at({0}) == 0);
}

TEST_CASE("printing") {
  std::string s = from_vector({1, 2, 3, 4}, {2, 2}).to_string();
  CHECK(s.find("[[1.0000, 2.0000],") != std::string::npos);
  CHECK(s.find("shape=[2, 2]") != std::string::npos);
  CHECK(s.find("dtype=float32") != std::string::npos);
  CHECK(arange(0, 3, 1, {.dtype = DType::Int64}).to_string().find("[0, 1, 2]") != std::string::npos);
  CHECK(scalar_tensor(2).to_string().find("tensor(2.0000") == 0);
  CHECK(zeros({2000}).to_string().find("...") != std::string::npos);
}

TEST_CASE("errors name the op and the shapes") {
  Tensor x = zeros({2, 3});
  CHECK_THROWS_WITH_AS(x.permute({0}), doctest::Contains("permute"), Error);
  CHECK_THROWS_WITH_AS(x.transpose(0, 5), doctest::Contains("dim 5 out of range"), Error);
  CHECK_THROWS_WITH_AS(x.narrow(1, 2, 5), doctest::Contains("out of bounds for dim 1 of size 3"), Error);
  CHECK_THROWS_WITH_AS(x.select(0, 2), doctest::Contains("index 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(x.expand({4, 3}), doctest::Contains("cannot expand shape [2, 3] to [4, 3]"), Error);
  CHECK_THROWS_WITH_AS(x.view({5, -1}), doctest::Contains("invalid for 6 elements"), Error);
  CHECK_THROWS_WITH_AS(x.at({2, 0}), doctest::Contains("index 2 out of range for dim 0"), Error);
  CHECK_THROWS_WITH_AS(x.item(), doctest::Contains("one-element"), Error);
  CHECK_THROWS_WITH_AS(Tensor().shape(), doctest::Contains("undefined tensor"), Error);
  CHECK_THROWS_WITH_AS(add(zeros({2, 3}), zeros({4, 3})), doctest::Contains("add: shapes [2, 3] and [4, 3] cannot be broadcast"), Error);
  CHECK_THROWS_WITH_AS(add(zeros({2}), zeros({2}, {.dtype = DType::Float64})), doctest::Contains("add: dtype mismatch"), Error);
  CHECK_THROWS_WITH_AS(exp(zeros({2}, {.dtype = DType::Int64})), doctest::Contains("expected a floating tensor"), Error);
  CHECK_THROWS_WITH_AS(ones({2}, {.dtype = DType::Int64}).requires_grad_(), doctest::Contains("only floating"), Error);
}
