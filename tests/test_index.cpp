// test_index.cpp — cat, stack, split, chunk, index_select, gather, embedding: PyTorch parity
// (tests/goldens/index.safetensors, from tools/goldens/index.py), float64 gradchecks with
// non-contiguous inputs and indices and repeated indices, the named scatter-add backwards, views
// sharing storage, empty edge cases, and error messages naming the op, the index and the size.
#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {
// Joining, splitting and indexing only move values; a gradient is a sum of at most a few float32
// values (repeated indices), so forward is exact and gradients are within one or two roundings.
const Tolerance kExact{0, 0};
const Tolerance kSum{1e-6, 1e-6};

Tensor i64(std::initializer_list<double> v, const Shape& shape = {}) {
  return from_vector(std::vector<double>(v), shape, {.dtype = DType::Int64});
}

// cat(piece_i * (i + 1)) along dim — the fixtures' way to check a list of pieces in one tensor.
Tensor weighted(const std::vector<Tensor>& pieces, int64_t dim) {
  std::vector<Tensor> scaled;
  for (size_t i = 0; i < pieces.size(); ++i) scaled.push_back(pieces[i] * double(i + 1));
  return cat(scaled, dim);
}

std::vector<int64_t> sizes_along(const std::vector<Tensor>& pieces, int64_t dim) {
  std::vector<int64_t> s;
  for (const Tensor& p : pieces) s.push_back(p.size(dim));
  return s;
}
}  // namespace

TEST_CASE("cat and stack: PyTorch parity") {
  check_golden("index", "cat.dim0", [](auto& in) { return cat({in[0], in[1], in[2]}, 0); }, kExact, kExact);
  check_golden("index", "cat.dim_neg1.transposed", [](auto& in) { return cat({in[0].t(), in[1]}, -1); }, kExact,
               kExact);
  check_golden("index", "cat.dim1.3d", [](auto& in) { return cat({in[0], in[1]}, 1); }, kExact, kExact);
  check_golden("index", "stack.dim0", [](auto& in) { return stack({in[0], in[1], in[2]}); }, kExact, kExact);
  check_golden("index", "stack.dim_neg1", [](auto& in) { return stack({in[0], in[1]}, -1); }, kExact, kExact);
  check_golden("index", "stack.dim1.transposed", [](auto& in) { return stack({in[0].t(), in[1]}, 1); }, kExact,
               kExact);
}

TEST_CASE("split and chunk: PyTorch parity") {
  // Piece values x (i + 1) are exact in float32 (small integer factors), so are the gradients.
  check_golden("index", "split.size", [](auto& in) { return weighted(split(in[0], 2, 1), 1); }, kExact, kExact);
  check_golden("index", "split.sizes", [](auto& in) { return weighted(split(in[0], {1, 0, 3, 2}, 0), 0); }, kExact,
               kExact);
  check_golden("index", "split.size.neg_dim", [](auto& in) { return weighted(split(in[0], 3, -1), -1); }, kExact,
               kExact);
  check_golden("index", "chunk.uneven", [](auto& in) { return weighted(chunk(in[0], 3, 0), 0); }, kExact, kExact);
  check_golden("index", "chunk.fewer", [](auto& in) { return weighted(chunk(in[0], 4, 1), 1); }, kExact, kExact);
}

TEST_CASE("index_select, gather, embedding: PyTorch parity") {
  check_golden("index", "index_select.dim0", [](auto& in) { return index_select(in[0], 0, in[1]); }, kExact, kSum);
  check_golden("index", "index_select.dim_neg1", [](auto& in) { return index_select(in[0], -1, in[1]); }, kExact,
               kSum);
  check_golden("index", "index_select.transposed", [](auto& in) { return index_select(in[0].t(), 0, in[1]); },
               kExact, kSum);
  check_golden("index", "gather.dim1.3d", [](auto& in) { return gather(in[0], 1, in[1]); }, kExact, kSum);
  check_golden("index", "gather.dim0", [](auto& in) { return gather(in[0], 0, in[1]); }, kExact, kSum);
  check_golden("index", "gather.dim_neg1.transposed", [](auto& in) { return gather(in[0].t(), -1, in[1]); }, kExact,
               kSum);
  check_golden("index", "embedding.2d", [](auto& in) { return embedding(in[0], in[1]); }, kExact, kSum);
  check_golden("index", "embedding.1d", [](auto& in) { return embedding(in[0], in[1]); }, kExact, kSum);
  check_golden("index", "embedding.scalar", [](auto& in) { return embedding(in[0], in[1]); }, kExact, kSum);
}

TEST_CASE("cat and stack: gradcheck with non-contiguous operands and a constant operand") {
  Tensor a = randn64({2, 3}, 1), b = randn64({4, 2}, 2), c = randn64({2, 6}, 3);
  Tensor constant = randn({2, 1}, {.dtype = DType::Float64});  // does not require grad
  check_gradcheck([](auto& in) { return cat({in[0], in[1].t(), in[2].slice(1, 0, 6, 3)}, -1); }, {a, b, c});
  check_gradcheck([&](auto& in) { return cat({constant, in[0], constant}, 1); }, {a});
  check_gradcheck([](auto& in) { return cat({in[0], in[0] * 2.0}, 0); }, {a});  // one input used twice
  Tensor d = randn64({3, 2}, 4);
  check_gradcheck([](auto& in) { return stack({in[0], in[1].t()}, 0); }, {a, d});
  check_gradcheck([](auto& in) { return stack({in[0], in[1].t(), in[0]}, -1); }, {a, d});
  check_gradcheck([](auto& in) { return stack({in[0].select(0, 1), in[1].select(1, 0)}, 1); }, {a, d});
}

TEST_CASE("split and chunk: pieces are views, gradcheck, sizes follow torch") {
  Tensor x = randn64({3, 7}, 10);
  std::vector<Tensor> pieces = split(x, 3, 1);
  CHECK(sizes_along(pieces, 1) == std::vector<int64_t>{3, 3, 1});
  for (const Tensor& p : pieces) CHECK(p.impl()->storage == x.impl()->storage);
  CHECK(pieces[1].offset() == 3);
  CHECK(sizes_along(split(x, {2, 0, 5}, 1), 1) == std::vector<int64_t>{2, 0, 5});
  CHECK(sizes_along(split(x, 10, 1), 1) == std::vector<int64_t>{7});
  CHECK(sizes_along(chunk(x, 3, 1), 1) == std::vector<int64_t>{3, 3, 1});
  CHECK(sizes_along(chunk(x, 7, 1), 1) == std::vector<int64_t>(7, 1));
  CHECK(sizes_along(chunk(x, 10, 1), 1) == std::vector<int64_t>(7, 1));  // fewer pieces than asked
  CHECK(sizes_along(chunk(randn({6}), 4), 0) == std::vector<int64_t>{2, 2, 2});
  CHECK(sizes_along(chunk(randn({6}), 4, -1), 0) == std::vector<int64_t>{2, 2, 2});
  // Empty dims: split gives one empty piece, chunk gives `chunks` empty pieces (as PyTorch).
  CHECK(sizes_along(split(zeros({0, 2}), 0), 0) == std::vector<int64_t>{0});
  CHECK(sizes_along(split(zeros({0, 2}), 3), 0) == std::vector<int64_t>{0});
  CHECK(sizes_along(chunk(zeros({0, 2}), 3), 0) == std::vector<int64_t>{0, 0, 0});
  // Writing through x shows in the piece (a view, no copy).
  Tensor y = zeros({4, 2});
  std::vector<Tensor> rows = split(y, 2, 0);
  y.set({3, 1}, 5.0);
  CHECK(rows[1].at({1, 1}) == 5.0);

  check_gradcheck([](auto& in) { return weighted(split(in[0], 3, 1), 1); }, {x});
  check_gradcheck([](auto& in) { return weighted(split(in[0].t(), {2, 0, 4, 1}, 0), 0); }, {x});
  check_gradcheck([](auto& in) { return weighted(chunk(in[0], 2, 0), 0); }, {x});
  // Only one piece used: the others receive zero gradient.
  check_gradcheck([](auto& in) { return chunk(in[0], 3, -1)[1] * 3.0; }, {x});
}

TEST_CASE("index_select: gradcheck with repeated and strided indices, non-contiguous input") {
  Tensor x = randn64({5, 4}, 20);
  Tensor idx = i64({4, 0, 4, 2, 4});
  check_gradcheck([&](auto& in) { return index_select(in[0], 0, idx); }, {x});
  check_gradcheck([&](auto& in) { return index_select(in[0], -1, i64({3, 0, 3})); }, {x});
  check_gradcheck([&](auto& in) { return index_select(in[0].t(), 1, idx); }, {x});
  Tensor strided = i64({3, 9, 1, 9, 0, 9}).slice(0, 0, 6, 2);  // [3, 1, 0], stride 2
  check_gradcheck([&](auto& in) { return index_select(in[0].t(), 0, strided); }, {x});
  // 3-D, middle dim; a 0-d index selects one slice and keeps the dim.
  Tensor x3 = randn64({2, 3, 2}, 21);
  check_gradcheck([&](auto& in) { return index_select(in[0], 1, i64({2, 2, 0})); }, {x3});
  Tensor one = from_vector({1}, {}, {.dtype = DType::Int64}).reshape({});
  CHECK(index_select(x3, 1, one).shape() == Shape{2, 1, 2});
  // Forward on non-floating inputs; an empty index.
  Tensor ints = arange(0, 6, 1, {.dtype = DType::Int64}).reshape({2, 3});
  CHECK(index_select(ints, 1, i64({2, 0})).to_vector() == std::vector<double>{2, 0, 5, 3});
  CHECK(index_select(x, 0, zeros({0}, {.dtype = DType::Int64})).shape() == Shape{0, 4});
}

TEST_CASE("gather: gradcheck with repeated indices, smaller index, non-contiguous input and index") {
  Tensor x = randn64({3, 4}, 30);
  Tensor idx = i64({0, 0, 3, 1, 2, 2, 2, 0}, {2, 4});  // fewer rows than x; repeats
  check_gradcheck([&](auto& in) { return gather(in[0], 1, idx); }, {x});
  check_gradcheck([&](auto& in) { return gather(in[0], 0, i64({2, 2, 0, 1, 1, 1, 0, 2}, {2, 4})); }, {x});
  check_gradcheck([&](auto& in) { return gather(in[0].t(), 0, idx.t().narrow(1, 0, 2)); }, {x});  // both strided
  check_gradcheck([&](auto& in) { return gather(in[0], -1, i64({3, 3, 3}, {1, 3})); }, {x});
  Tensor x3 = randn64({2, 3, 2}, 31);
  Tensor idx3 = i64({2, 0, 1, 1, 0, 0, 2, 2}, {2, 2, 2});
  check_gradcheck([&](auto& in) { return gather(in[0], 1, idx3); }, {x3});
  // Values: out[i][j] = x[i][idx[i][j]].
  Tensor v = arange(0, 12, 1, {.dtype = DType::Float64}).reshape({3, 4});
  CHECK(gather(v, 1, idx).to_vector() == std::vector<double>{0, 0, 3, 1, 6, 6, 6, 4});
}

TEST_CASE("embedding: gradcheck, repeated rows accumulate, any index shape") {
  Tensor w = randn64({5, 3}, 40);
  Tensor idx = i64({1, 4, 1, 0, 1, 2}, {2, 3});
  check_gradcheck([&](auto& in) { return embedding(in[0], idx); }, {w});
  check_gradcheck([&](auto& in) { return embedding(in[0].t().t(), idx.t()); }, {w});  // non-contiguous indices
  Tensor wt = randn64({3, 5}, 41);
  check_gradcheck([&](auto& in) { return embedding(in[0].t(), i64({4, 4, 0})); }, {wt});  // transposed weight
  CHECK(embedding(w, idx).shape() == Shape{2, 3, 3});
  CHECK(embedding(w, i64({2, 0}, {1, 1, 2})).shape() == Shape{1, 1, 2, 3});
  // Row 1 is used three times: its gradient is 3 * (the upstream row); unused row 3 gets zeros.
  w.zero_grad();
  embedding(w, idx).backward(ones({2, 3, 3}, {.dtype = DType::Float64}));
  CHECK(w.grad().to_vector() ==
        std::vector<double>{1, 1, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1});
  CHECK(std::string(embedding(w, idx).grad_fn()->name()) == "embedding_backward");
}

TEST_CASE("named backwards: index_add and scatter_add into zeros") {
  Tensor g = arange(1, 7, 1, {.dtype = DType::Float64}).reshape({2, 3});
  // index_select_backward along dim 1 with index [2, 0, 2]: columns 0 and 2 accumulate.
  Tensor gx = index_select_backward(g, {2, 4}, 1, i64({2, 0, 2}));
  CHECK(gx.to_vector() == std::vector<double>{2, 0, 1 + 3, 0, 5, 0, 4 + 6, 0});
  // gather_backward along dim 0.
  Tensor gg = gather_backward(g, {3, 3}, 0, i64({0, 2, 0, 0, 1, 0}, {2, 3}));
  CHECK(gg.to_vector() == std::vector<double>{1 + 4, 0, 3 + 6, 0, 5, 0, 0, 2, 0});
  // embedding_backward: rows of g (positions) added into rows of a (4, 3) gradient.
  Tensor ge = embedding_backward(g, i64({3, 3}), 4);
  CHECK(ge.to_vector() == std::vector<double>{0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 7, 9});
}

TEST_CASE("cat: dtypes other than floating, empty pieces") {
  Tensor a = i64({1, 2}), b = i64({3});
  CHECK(cat({a, b}).to_vector() == std::vector<double>{1, 2, 3});
  Tensor t = gt(tensor({1, -1}), tensor({0, 0}));
  CHECK(cat({t, t}).dtype() == DType::Bool);
  CHECK(cat({randn({2, 0}), randn({2, 3}), randn({2, 0})}, 1).shape() == Shape{2, 3});
  CHECK(stack({scalar_tensor(1), scalar_tensor(2)}).to_vector() == std::vector<double>{1, 2});
  CHECK_FALSE(cat({randn({2}), randn({2})}).requires_grad());
}

TEST_CASE("index: errors name the op, the index and the size") {
  Tensor x = randn({5, 3});
  CHECK_THROWS_WITH_AS(cat({}), doctest::Contains("cat: expects a non-empty list of tensors"), Error);
  CHECK_THROWS_WITH_AS(cat({randn({2, 3}), randn({2, 3}, {.dtype = DType::Float64})}),
                       doctest::Contains("cat: dtype mismatch: entry 0 is float32 but entry 1 is float64"), Error);
  CHECK_THROWS_WITH_AS(cat({randn({2, 3}), randn({2, 4})}),
                       doctest::Contains("cat: sizes must match except in dim 0: entry 0 has shape [2, 3] but entry "
                                         "1 has shape [2, 4]"),
                       Error);
  CHECK_THROWS_WITH_AS(cat({randn({2}), randn({2, 3})}),
                       doctest::Contains("cat: tensors must have the same number of dims"), Error);
  CHECK_THROWS_WITH_AS(cat({randn({2, 3})}, 2), doctest::Contains("cat: dim 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(cat({scalar_tensor(1)}), doctest::Contains("cat: zero-dimensional"), Error);
  CHECK_THROWS_WITH_AS(stack({randn({2, 3}), randn({3, 2})}),
                       doctest::Contains("stack: expects tensors of equal shape, got [2, 3] at entry 0 and [3, 2] at "
                                         "entry 1"),
                       Error);
  CHECK_THROWS_WITH_AS(stack({}), doctest::Contains("stack: expects a non-empty list"), Error);
  CHECK_THROWS_WITH_AS(stack({randn({2})}, 2), doctest::Contains("stack: dim 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(split(x, {2, 2}), doctest::Contains("split: sizes [2, 2] sum to 4 but dim 0 of shape [5, 3] "
                                                           "has size 5"),
                       Error);
  CHECK_THROWS_WITH_AS(split(x, {6, -1}), doctest::Contains("split: sizes must be non-negative"), Error);
  CHECK_THROWS_WITH_AS(split(x, 0), doctest::Contains("split: split_size can only be 0 if the dim has size 0"), Error);
  CHECK_THROWS_WITH_AS(split(x, -2), doctest::Contains("split: split_size must be non-negative, got -2"), Error);
  CHECK_THROWS_WITH_AS(chunk(x, 0), doctest::Contains("chunk: chunks must be positive, got 0"), Error);
  CHECK_THROWS_WITH_AS(chunk(x, 2, 3), doctest::Contains("chunk: dim 3 out of range"), Error);

  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({0, 7})),
                       doctest::Contains("index_select: index 7 is out of range for dim 0 of size 5"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 1, i64({-1})),
                       doctest::Contains("index_select: index -1 is out of range for dim 1 of size 3"), Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, tensor({1})), doctest::Contains("index_select: index must be int64, got float32"),
                       Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, i64({1, 2}, {1, 2})),
                       doctest::Contains("index_select: index must be 1-D, got shape [1, 2]"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, i64({0, 3}, {1, 2})),
                       doctest::Contains("gather: index 3 is out of range for dim 1 of size 3"), Error);
  CHECK_THROWS_WITH_AS(gather(x, 0, i64({0, 1})),
                       doctest::Contains("gather: index must have as many dims as the input: index [2] vs input [5, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(gather(x, 0, zeros({1, 4}, {.dtype = DType::Int64})),
                       doctest::Contains("gather: index shape [1, 4] is larger than the input shape [5, 3] in dim 1"),
                       Error);
  CHECK_THROWS_WITH_AS(embedding(x, i64({1, 5})),
                       doctest::Contains("embedding: index 5 is out of range for dim 0 of size 5"), Error);
  CHECK_THROWS_WITH_AS(embedding(x, i64({-3})), doctest::Contains("embedding: index -3 is out of range"), Error);
  CHECK_THROWS_WITH_AS(embedding(randn({5}), i64({1})),
                       doctest::Contains("embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape [5]"),
                       Error);
  CHECK_THROWS_WITH_AS(embedding(x, tensor({1})), doctest::Contains("embedding: indices must be int64, got float32"),
                       Error);
}
