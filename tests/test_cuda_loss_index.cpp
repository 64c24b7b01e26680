// test_cuda_loss_index.cpp — the CUDA cross-entropy, index_select, gather and scatter_add kernels
// against the CPU reference (cuda_testing.h): cross-entropy on (N, C), (N, C, d) and (N, C, d1, d2)
// with ignore_index and every reduction; embedding, index_select and gather with repeated indices
// and their scatter-add backwards (both of its paths); strided operands; every dtype indexing
// takes; and the out-of-range errors, which must be the CPU's messages word for word.
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// Cross-entropy: log_softmax (exp/log in double on both sides) then a gather and a reduction in
// double: float32 within a rounding or two; float64 within the summation order.
Tolerance loss_tolerance(DType dtype) { return dtype == DType::Float32 ? Tolerance{1e-5, 1e-6} : Tolerance{1e-12, 1e-12}; }

// Indexing moves values and scatter_add adds them in the reference's order: exactly equal.
constexpr Tolerance kExact{0, 0};

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

// f(device) must throw on both devices, with the same message (the reference kernels on the CPU).
void check_same_error(const std::string& what, const std::function<void(Device)>& f) {
  INFO(what);
  std::string cpu;
  {
    ScopedCpuKernels reference(CpuKernels::Reference);
    cpu = error_message([&] { f(Device::CPU); });
  }
  const std::string dev = error_message([&] { f(Device::CUDA); });
  CHECK_MESSAGE(cpu != "(no error)", "the CPU accepted it");
  CHECK(dev == cpu);
}

Tensor int64_tensor(const std::vector<double>& values, const Shape& shape) {
  return from_vector(values, shape, {.dtype = DType::Int64});
}

// Uniform class targets in [0, C), with every third position (from `phase`) set to ignore_index.
Tensor targets_with_ignored(const Shape& shape, int64_t classes, int64_t ignore_index, uint64_t seed, int64_t phase = 0) {
  Generator g(seed);
  Tensor t = randint(0, classes, shape, {.dtype = DType::Int64}, &g);
  Tensor flat = t.view({-1});
  for (int64_t i = phase; i < flat.numel(); i += 3) flat.set({i}, double(ignore_index));
  return t;
}

}  // namespace

TEST_CASE("cuda cross_entropy: (N, C), (N, C, d), (N, C, d1, d2), ignore_index, every reduction") {
  if (!cuda_ready()) return;
  struct Shapes {
    Shape logits, target;
  };
  const std::vector<Shapes> shapes = {{{7, 5}, {7}}, {{3, 4, 6}, {3, 6}}, {{2, 3, 4, 5}, {2, 4, 5}}, {{600, 11}, {600}}};
  uint64_t seed = 1;
  for (const Shapes& s : shapes)
    for (DType dtype : {DType::Float32, DType::Float64})
      for (Reduction reduction : {Reduction::None, Reduction::Mean, Reduction::Sum})
        for (int64_t ignore_index : {int64_t(-100), int64_t(2)}) {
          const Tensor logits = random_input(s.logits, dtype, seed++) * 3.0;
          const Tensor target = targets_with_ignored(s.target, s.logits[1], ignore_index, seed++);
          BackendCase c{case_name("cross_entropy", s.logits, dtype, "reduction " + std::to_string(int(reduction)) +
                                                                        " ignore " + std::to_string(ignore_index)),
                        {logits, target},
                        [reduction, ignore_index](const std::vector<Tensor>& in) {
                          return cross_entropy(in[0], in[1], ignore_index, reduction);
                        }};
          c.forward = c.backward = loss_tolerance(dtype);
          check_backend(c);
        }
}

TEST_CASE("cuda cross_entropy: one sample, strided logits and targets, every position ignored") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    BackendCase one{"cross_entropy (C) with a 0-dim target", {random_input({6}, dtype, 10), scalar_tensor(4, {.dtype = DType::Int64})},
                    [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); }};
    one.forward = one.backward = loss_tolerance(dtype);
    check_backend(one);
    // logits stored (N, d, C) and seen as (N, C, d); targets stored transposed.
    BackendCase strided{"cross_entropy strided", {random_input({4, 5, 3}, dtype, 11), targets_with_ignored({5, 4}, 3, -1, 12, 1)},
                        [](const std::vector<Tensor>& in) {
                          return cross_entropy(in[0].transpose(1, 2), in[1].t(), -1, Reduction::None);
                        }};
    strided.forward = strided.backward = loss_tolerance(dtype);
    check_backend(strided);
    // Mean over no positions: NaN forward (as PyTorch) on both; a zero gradient.
    BackendCase none{"cross_entropy all ignored", {random_input({3, 4}, dtype, 13), int64_tensor({-100, -100, -100}, {3})},
                     [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); }};
    check_backend(none);
  }
}

TEST_CASE("cuda cross_entropy: an out-of-range target throws the CPU's message") {
  if (!cuda_ready()) return;
  const Tensor logits = random_input({4, 3, 2}, DType::Float32, 20);
  for (const std::vector<double>& bad : {std::vector<double>{0, 1, 2, 3, 1, 0, 2, -7}, {0, 1, -1, 2, 5, 0, 1, 1},
                                         {-100, 9, -100, -100, 4, 0, 1, 1}}) {
    const Tensor target = int64_tensor(bad, {4, 2});
    check_same_error("cross_entropy with targets " + target.to_string(), [&](Device d) {
      cross_entropy(copy_to(logits, d), copy_to(target, d));
    });
  }
  const std::string message = error_message([&] {
    cross_entropy(copy_to(logits, Device::CUDA), copy_to(int64_tensor({0, 1, 2, 3, 1, 0, 2, -7}, {4, 2}), Device::CUDA));
  });
  // The first bad target in row-major order, named with C and the ignore_index.
  CHECK(message == "cross_entropy: target class 3 is out of range for C = 3 classes (valid: 0..2, or ignore_index -100)");
}

TEST_CASE("cuda index_select and embedding: repeated indices, every dim, views, and their scatter-add backward") {
  if (!cuda_ready()) return;
  const Tensor index = int64_tensor({2, 0, 2, 2, 1, 0, 3}, {7});
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = random_input({4, 5, 6}, dtype, 30);
    for (int64_t dim : {0, 1, 2}) {
      BackendCase c{case_name("index_select", x.shape(), dtype, "dim " + std::to_string(dim)), {x, index},
                    [dim](const std::vector<Tensor>& in) {
                      // A transposed input and a strided index too.
                      const Tensor strided_index = cat({in[1], in[1]}).slice(0, 1, 14, 2);
                      return cat({index_select(in[0], dim, in[1]).flatten(),
                                  index_select(in[0].transpose(0, 2), dim, strided_index).flatten()});
                    }};
      c.forward = c.backward = kExact;
      check_backend(c);
    }
    // Embedding: 2-D indices, repeated rows; a vocabulary larger than the batch (rows with no use).
    Generator g(31);
    const Tensor tokens = randint(0, 50, {6, 40}, {.dtype = DType::Int64}, &g);
    BackendCase e{case_name("embedding", {50, 16}, dtype), {random_input({50, 16}, dtype, 32), tokens},
                  [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); }};
    e.forward = e.backward = kExact;
    check_backend(e);
    BackendCase s{case_name("embedding", {9, 3}, dtype, "0-dim and single index"), {random_input({9, 3}, dtype, 33), scalar_tensor(4, {.dtype = DType::Int64})},
                  [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]) + index_select(in[0], 0, in[1]).squeeze(0); }};
    s.forward = s.backward = kExact;
    check_backend(s);
  }
  // int64 and bool values move too (no gradient).
  for (DType dtype : {DType::Int64, DType::Bool}) {
    BackendCase c{std::string("index_select ") + dtype_name(dtype), {random_input({5, 4}, DType::Float64, 34).to(dtype), index},
                  [](const std::vector<Tensor>& in) { return index_select(in[0].t(), 1, in[1].slice(0, 0, 5)); }};
    c.grad = false;
    check_backend(c);
  }
}

TEST_CASE("cuda gather: every dim, repeated indices, an index smaller than the input, and its backward") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = random_input({4, 5, 6}, dtype, 40);
    for (int64_t dim : {0, 1, 2}) {
      Shape index_shape = {3, 4, 5};
      index_shape[size_t(dim)] = 7;  // longer than x along dim: repeats
      Generator g(41 + uint64_t(dim));
      const Tensor index = randint(0, x.shape()[size_t(dim)], index_shape, {.dtype = DType::Int64}, &g);
      BackendCase c{case_name("gather", x.shape(), dtype, "dim " + std::to_string(dim)), {x, index},
                    [dim](const std::vector<Tensor>& in) {
                      return gather(in[0], dim, in[1]) + gather(in[0].transpose(0, 2).contiguous().transpose(0, 2), dim, in[1]);
                    }};
      c.forward = c.backward = kExact;
      check_backend(c);
    }
    // 300 lines (two blocks in the backward) and a transposed index.
    Generator g(45);
    const Tensor index = randint(0, 30, {20, 300}, {.dtype = DType::Int64}, &g);
    BackendCase big{case_name("gather", {300, 30}, dtype, "300 lines, transposed index"), {random_input({300, 30}, dtype, 46), index},
                    [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1].t()); }};
    big.forward = big.backward = kExact;
    check_backend(big);
  }
  Generator g(47);
  const Tensor index = randint(0, 4, {3, 2}, {.dtype = DType::Int64}, &g);
  for (DType dtype : {DType::Int64, DType::Bool}) {
    BackendCase c{std::string("gather ") + dtype_name(dtype), {random_input({3, 4}, DType::Float64, 48).to(dtype), index},
                  [](const std::vector<Tensor>& in) { return gather(in[0], 1, in[1]); }};
    c.grad = false;
    check_backend(c);
  }
}

TEST_CASE("cuda scatter_add: onto existing values through strides, both paths, bit-equal to the CPU") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64}) {
    const Tensor dst0 = random_input({6, 5}, DType::Float64, 50).to(dtype);
    const Tensor src = (random_input({8, 5}, DType::Float64, 51) * 10.0).to(dtype);
    Generator g(52);
    const Tensor general = randint(0, 6, {8, 5}, {.dtype = DType::Int64}, &g);
    const Tensor rows = int64_tensor({5, 0, 5, 1, 5, 2, 0, 5}, {8, 1});  // expanded: a function of j alone
    for (bool expanded : {false, true}) {
      const Tensor index = expanded ? rows.expand({8, 5}) : general;
      const Tensor dev_index = expanded ? copy_to(rows, Device::CUDA).expand({8, 5}) : copy_to(general, Device::CUDA);
      Tensor host = dst0.clone();
      Tensor dev = copy_to(dst0.t().contiguous(), Device::CUDA).t();  // a transposed destination
      scatter_add_kernel.cpu_reference()("scatter_add", host, 0, index, src);
      scatter_add_kernel(Device::CUDA)("scatter_add", dev, 0, dev_index, copy_to(src, Device::CUDA));
      CHECK_MESSAGE(bitwise_equal(copy_to(dev, Device::CPU).contiguous(), host), "scatter_add ", dtype_name(dtype));
      CHECK_FALSE(bitwise_equal(host, dst0));  // it did add something
    }
  }
}

TEST_CASE("cuda indexing: out-of-range indices throw the CPU's message, and scatter_add then leaves dst as it was") {
  if (!cuda_ready()) return;
  const Tensor x = random_input({4, 5}, DType::Float32, 60);
  for (const std::vector<double>& bad : {std::vector<double>{0, 4, 2}, {1, -1, 9}, {5, 5, 0}}) {
    const Tensor index = int64_tensor(bad, {3});
    check_same_error("index_select " + index.to_string(), [&](Device d) { index_select(copy_to(x, d), 0, copy_to(index, d)); });
    check_same_error("embedding " + index.to_string(), [&](Device d) { embedding(copy_to(x, d), copy_to(index, d)); });
    const Tensor index2 = int64_tensor({0, 1, 2, 3, bad[0], bad[1], bad[2], 0}, {2, 4});
    check_same_error("gather " + index2.to_string(), [&](Device d) { gather(copy_to(x, d), 0, copy_to(index2, d)); });
  }
  check_same_error("index_select with a 2-D index", [&](Device d) {
    index_select_kernel(d)("index_select", copy_to(x, d), 0, copy_to(int64_tensor({0, 1}, {1, 2}), d),
                           empty({2, 5}, {DType::Float32, d}));
  });
  // scatter_add, both paths: the same message, and nothing written on the device.
  const Tensor general = int64_tensor({0, 1, 3, 2, 4, 1}, {2, 3});
  const Tensor rows = int64_tensor({1, 4}, {2, 1});  // expanded (on the device too): the grouped path
  for (bool expanded : {false, true}) {
    const auto index_on = [&](Device d) { return expanded ? copy_to(rows, d).expand({2, 3}) : copy_to(general, d); };
    const Tensor src = random_input({2, 3}, DType::Float32, 61);
    check_same_error(std::string("scatter_add ") + (expanded ? "expanded" : "general"), [&](Device d) {
      scatter_add_kernel(d)("gather_backward", zeros({4, 3}, {DType::Float32, d}), 0, index_on(d), copy_to(src, d));
    });
    const Tensor dst = copy_to(x.slice(1, 0, 3), Device::CUDA);
    CHECK_THROWS(scatter_add_kernel(Device::CUDA)("scatter_add", dst, 0, index_on(Device::CUDA), copy_to(src, Device::CUDA)));
    CHECK(bitwise_equal(copy_to(dst, Device::CPU), x.slice(1, 0, 3).contiguous()));
  }
  const std::string message = error_message([&] {
    index_select(copy_to(x, Device::CUDA), 1, copy_to(int64_tensor({1, 7, -2}, {3}), Device::CUDA));
  });
  CHECK(message == "index_select: index 7 is out of range for dim 1 of size 5");
}
