// test_cuda_reduce.cpp — the CUDA reduction kernels (sum, mean, max/min, argmax/argmin,
// logsumexp, var, softmax/log_softmax) against the CPU reference (cuda_testing.h): every subset of
// dims of a 3-D and a 4-D tensor, keepdim and not, transposed views, non-last dims, every path of
// the engine (a thread, a warp or a block per output; a long reduction split into parts), a
// 300 000-element vector, scalars, empty tensors, ties and NaN; forward and backward, twice.
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// Float32 sums, means and variances accumulate in double on both sides: they differ only in the
// order of the double additions, so the float32 results differ by at most a rounding (~1 ulp).
// Float64 results differ by the summation order: ~n ulp of the sum of |x|, far below 1e-12 here.
Tolerance reduce_tolerance(DType dtype) { return dtype == DType::Float32 ? Tolerance{1e-6, 1e-6} : Tolerance{1e-12, 1e-12}; }
// The backward is elementwise math on those outputs (e.g. exp(x - logsumexp)): a few ulp more.
Tolerance gradient_tolerance(DType dtype) { return dtype == DType::Float32 ? Tolerance{1e-5, 1e-6} : Tolerance{1e-11, 1e-12}; }

using ReduceOpFn = Tensor (*)(const Tensor&, const Dims&, bool);

struct ReduceCase {
  const char* name;
  ReduceOpFn fn;
};

const std::vector<ReduceCase>& reduce_cases() {
  static const std::vector<ReduceCase> cases = {
      {"sum", [](const Tensor& x, const Dims& d, bool k) { return sum(x, d, k); }},
      {"mean", [](const Tensor& x, const Dims& d, bool k) { return mean(x, d, k); }},
      {"max", [](const Tensor& x, const Dims& d, bool k) { return max(x, d, k); }},
      {"min", [](const Tensor& x, const Dims& d, bool k) { return min(x, d, k); }},
      {"logsumexp", [](const Tensor& x, const Dims& d, bool k) { return logsumexp(x, d, k); }},
      {"var", [](const Tensor& x, const Dims& d, bool k) { return var(x, d, 1, k); }},
  };
  return cases;
}

// Every non-empty subset of the dims of an ndim-D tensor.
std::vector<Dims> dim_subsets(int64_t ndim) {
  std::vector<Dims> out;
  for (int64_t mask = 1; mask < (int64_t(1) << ndim); ++mask) {
    Dims d;
    for (int64_t i = 0; i < ndim; ++i)
      if (mask & (int64_t(1) << i)) d.push_back(i);
    out.push_back(d);
  }
  return out;
}

void check_reduce(const ReduceCase& r, const Tensor& x, const Dims& dims, bool keepdim, const std::string& layout,
                  std::function<Tensor(const Tensor&)> view = nullptr) {
  BackendCase c{case_name(r.name, x.shape(), x.dtype(), layout + " dims " + shape_str(dims) + (keepdim ? " keepdim" : "")),
                {x},
                [&r, dims, keepdim, view](const std::vector<Tensor>& in) {
                  return r.fn(view ? view(in[0]) : in[0], dims, keepdim);
                }};
  c.forward = reduce_tolerance(x.dtype());
  c.backward = gradient_tolerance(x.dtype());
  c.grad = is_floating(x.dtype());
  check_backend(c);
}

// Every reduction of x over dims, stacked (one case checks them all, forward and backward).
Tensor all_reductions(const Tensor& x, const Dims& dims) {
  std::vector<Tensor> outs;
  for (const ReduceCase& r : reduce_cases()) outs.push_back(r.fn(x, dims, false));
  return stack(outs);
}

}  // namespace

TEST_CASE("cuda reduce: every op over every subset of dims of 3-D and 4-D tensors, keepdim and not") {
  if (!cuda_ready()) return;
  uint64_t seed = 1;
  for (const ReduceCase& r : reduce_cases())
    for (DType dtype : {DType::Float32, DType::Float64}) {
      const Tensor x3 = random_input({3, 5, 7}, dtype, seed++);
      const Tensor x4 = random_input({2, 3, 4, 5}, dtype, seed++);
      for (bool keepdim : {false, true}) {
        for (const Dims& dims : dim_subsets(3)) check_reduce(r, x3, dims, keepdim, "");
        for (const Dims& dims : dim_subsets(4)) check_reduce(r, x4, dims, keepdim, "");
      }
      // A permuted view: the kernels read through the strides.
      const Tensor p = random_input({4, 3, 5}, dtype, seed++);
      for (const Dims& dims : dim_subsets(3))
        check_reduce(r, p, dims, false, "permuted (2, 0, 1)", [](const Tensor& t) { return t.permute({2, 0, 1}); });
    }
}

TEST_CASE("cuda reduce: sum, max and min of int64 over subsets of dims") {
  if (!cuda_ready()) return;
  Generator g(7);
  const Tensor x = randint(-50, 50, {3, 4, 5}, {.dtype = DType::Int64}, &g);
  for (const ReduceCase& r : reduce_cases()) {
    const std::string name = r.name;
    if (name != "sum" && name != "max" && name != "min") continue;
    for (const Dims& dims : dim_subsets(3)) check_reduce(r, x, dims, true, "");
    check_reduce(r, x, {0, 2}, false, "transposed", [](const Tensor& t) { return t.transpose(0, 2); });
  }
}

TEST_CASE("cuda reduce: each path of the engine (thread, warp, block per output, split into parts)") {
  if (!cuda_ready()) return;
  struct PathCase {
    const char* what;
    Shape shape;
    Dims dims;
  };
  const std::vector<PathCase> paths = {
      {"a thread per output (16 elements each)", {700, 16}, {1}},
      {"a thread per output (columns, coalesced across outputs)", {33, 1100}, {0}},
      {"a warp per output", {9, 2000}, {1}},
      {"a block per output", {5, 3000}, {1}},
      {"a block per output, split into parts, a strided set", {40000, 3}, {0}},
      {"two reduced dims, a warp per output", {3, 200, 17}, {0, 2}},
      {"two reduced dims split into parts", {3, 4, 9000}, {0, 2}},
  };
  uint64_t seed = 50;
  for (const PathCase& path : paths)
    for (DType dtype : {DType::Float32, DType::Float64}) {
      BackendCase c{case_name("every reduction", path.shape, dtype, path.what), {random_input(path.shape, dtype, seed++)},
                    [&path](const std::vector<Tensor>& in) { return all_reductions(in[0], path.dims); }};
      c.forward = reduce_tolerance(dtype);
      c.backward = gradient_tolerance(dtype);
      check_backend(c);
    }
}

TEST_CASE("cuda reduce: a 300 000-element vector (partial sums, then a fixed second pass)") {
  if (!cuda_ready()) return;
  uint64_t seed = 90;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // Shifted away from 0 so that the sum is not a cancellation (the tolerance is relative).
    BackendCase c{case_name("every reduction", {300000}, dtype), {random_uniform({300000}, dtype, 0.5, 1.5, seed++)},
                  [](const std::vector<Tensor>& in) { return all_reductions(in[0], {0}); }};
    // 300 000 float64 additions in another order: ~1e-12 relative of the sum at worst.
    c.forward = dtype == DType::Float32 ? Tolerance{1e-6, 1e-6} : Tolerance{1e-11, 1e-12};
    c.backward = gradient_tolerance(dtype);
    c.grad = dtype == DType::Float32;  // the backward is elementwise (slow in the emulator): once is enough
    check_backend(c);
  }
  const Tensor big = random_input({300000}, DType::Float64, 99);
  BackendCase a{"argmax/argmin of 300 000", {big}, [](const std::vector<Tensor>& in) {
                  return stack({argmax(in[0], 0), argmin(in[0], 0)});
                }};
  a.grad = false;
  check_backend(a);
}

TEST_CASE("cuda reduce: mean, var, logsumexp, softmax and log_softmax on non-last dims and transposed views") {
  if (!cuda_ready()) return;
  uint64_t seed = 200;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = random_input({6, 5, 4}, dtype, seed++);
    for (int64_t dim : {0, 1, 2}) {
      BackendCase c{case_name("mean/var/logsumexp", x.shape(), dtype, "transposed, dim " + std::to_string(dim)), {x},
                    [dim](const std::vector<Tensor>& in) {
                      const Tensor t = in[0].transpose(0, 2);
                      return mean(t, {dim}) + var(t, {dim}, 0) + logsumexp(t, {dim});
                    }};
      c.forward = reduce_tolerance(dtype);
      c.backward = gradient_tolerance(dtype);
      check_backend(c);
      for (bool log : {false, true}) {
        BackendCase s{case_name(log ? "log_softmax" : "softmax", x.shape(), dtype, "dim " + std::to_string(dim)), {x},
                      [dim, log](const std::vector<Tensor>& in) {
                        const Tensor t = in[0].permute({1, 2, 0});
                        return log ? log_softmax(in[0], dim) + log_softmax(t, dim).permute({2, 0, 1})
                                   : softmax(in[0], dim) + softmax(t, dim).permute({2, 0, 1});
                      }};
        s.forward = reduce_tolerance(dtype);
        s.backward = gradient_tolerance(dtype);
        check_backend(s);
      }
    }
  }
}

TEST_CASE("cuda softmax: short, medium and long lines, column lines, a strided output-sized input") {
  if (!cuda_ready()) return;
  struct LineCase {
    Shape shape;
    int64_t dim;
  };
  // lines of 5 (a thread each), of 1500 (a warp), of 5000 (a block); 1100 column lines of 40.
  const std::vector<LineCase> lines = {{{300, 5}, 1}, {{7, 1500}, 1}, {{3, 5000}, -1}, {{40, 1100}, 0}, {{2, 3, 300}, 1}};
  uint64_t seed = 300;
  for (const LineCase& l : lines)
    for (DType dtype : {DType::Float32, DType::Float64})
      for (bool log : {false, true}) {
        BackendCase s{case_name(log ? "log_softmax" : "softmax", l.shape, dtype, "dim " + std::to_string(l.dim)),
                      {random_input(l.shape, dtype, seed++) * 3.0},
                      [l, log](const std::vector<Tensor>& in) { return log ? log_softmax(in[0], l.dim) : softmax(in[0], l.dim); }};
        s.forward = reduce_tolerance(dtype);
        s.backward = gradient_tolerance(dtype);
        check_backend(s);
      }
}

TEST_CASE("cuda reduce: scalars, size-1 dims and empty tensors") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor s = random_input({}, dtype, 400);
    BackendCase scalar{"0-dim", {s}, [](const std::vector<Tensor>& in) {
                         const Tensor& x = in[0];
                         return sum(x) + mean(x) + max(x) + logsumexp(x, {0}) + softmax(x, 0) + log_softmax(x, -1) +
                                sum(x, {0}, true);
                       }};
    check_backend(scalar);
    const Tensor one = random_input({3, 1, 4}, dtype, 401);
    BackendCase size1{"size-1 dim", {one}, [](const std::vector<Tensor>& in) {
                        return sum(in[0], {1}) + max(in[0], {1}) + logsumexp(in[0], {1}) + softmax(in[0], 1).squeeze(1) +
                               var(in[0], {1}, 0);
                      }};
    check_backend(size1);
    const Tensor empty_x = random_input({0, 4}, dtype, 402);
    BackendCase e0{"reduce over an empty dim", {empty_x}, [](const std::vector<Tensor>& in) {
                     // sum: 0; mean and var: NaN (0/0); logsumexp: -inf (log 0), as the reference
                     return stack({sum(in[0], {0}), mean(in[0], {0}), logsumexp(in[0], {0}), var(in[0], {0})});
                   }};
    check_backend(e0);
    BackendCase e1{"reduce an empty tensor along a non-empty dim", {empty_x}, [](const std::vector<Tensor>& in) {
                     return cat({sum(in[0], {1}), max(in[0], {1}), var(in[0], {1}), sum(softmax(in[0], 1), {1}),
                                 argmax(in[0], 1).to(in[0].dtype())});
                   }};
    check_backend(e1);
  }
}

TEST_CASE("cuda argmax/argmin: first index of ties, NaN counts as the extreme, every dim, views") {
  if (!cuda_ready()) return;
  const Tensor x = from_vector({1, 3, 3, 2, NAN, 1, NAN, 0, -1, -1, -1, -1, 5, 5, -7, -7}, {4, 4});
  for (DType dtype : {DType::Float32, DType::Float64}) {
    BackendCase c{std::string("argmax/argmin ties and NaN ") + dtype_name(dtype), {x.to(dtype)},
                  [](const std::vector<Tensor>& in) {
                    const Tensor& t = in[0];
                    return cat({argmax(t, 1), argmin(t, 1), argmax(t, 0), argmin(t, 0), argmax(t.t(), 1), argmin(t, -1, true).flatten(),
                                argmax(t.flatten(), 0).unsqueeze(0)});
                  }};
    c.grad = false;
    check_backend(c);
  }
  // Long lines (a block each) with ties far apart and a NaN late in one line.
  Tensor line = zeros({3, 5000}, {.dtype = DType::Float64});
  for (int64_t j : {4100, 17, 4999}) line.set({0, j}, 9);
  for (int64_t j : {3, 2999}) line.set({1, j}, -4);
  for (int64_t j : {4500, 4600}) line.set({1, j}, NAN);
  line.set({2, 4999}, 1);
  BackendCase l{"argmax/argmin of long lines", {line}, [](const std::vector<Tensor>& in) {
                  return cat({argmax(in[0], 1), argmin(in[0], 1), argmax(in[0].t(), 0)});
                }};
  l.grad = false;
  check_backend(l);
  // Check the values themselves too, so that a kernel and reference wrong the same way would fail.
  const Tensor am = argmax(copy_to(line, Device::CUDA), 1);
  CHECK(am.to_vector() == std::vector<double>{17, 4500, 4999});
  const Tensor amin = argmin(copy_to(line, Device::CUDA), 1);
  CHECK(amin.to_vector() == std::vector<double>{0, 4500, 0});
  Generator g(3);
  const Tensor ints = randint(-3, 3, {6, 7}, {.dtype = DType::Int64}, &g);
  BackendCase i{"argmax/argmin int64 (many ties)", {ints}, [](const std::vector<Tensor>& in) {
                  return cat({argmax(in[0], 1), argmin(in[0], 0), argmax(in[0].t(), 1)});
                }};
  i.grad = false;
  check_backend(i);
}

TEST_CASE("cuda reduce: NaN and infinities as the reference (max/min propagate NaN, logsumexp of infinities)") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = from_vector({1, NAN, 2, -3, -INFINITY, -INFINITY, -INFINITY, -INFINITY, 4, INFINITY, 0, 1}, {3, 4}).to(dtype);
    BackendCase c{std::string("NaN and inf ") + dtype_name(dtype), {x}, [](const std::vector<Tensor>& in) {
                    const Tensor& t = in[0];
                    return stack({max(t, {1}), min(t, {1}), logsumexp(t, {1}), sum(t, {1}), var(t, {1}),
                                  sum(softmax(t, 1), {1}), max(t.t(), {0})});
                  }};
    c.grad = false;
    check_backend(c);
    const Tensor m = max(copy_to(x, Device::CUDA), {1});
    CHECK(std::isnan(m.at({0})));
    CHECK(m.at({1}) == -INFINITY);
    CHECK(m.at({2}) == INFINITY);
  }
}

TEST_CASE("cuda var: corrections 0, 1, 2 and a divisor that reaches 0") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = random_input({4, 3}, dtype, 500) + 100.0;  // |mean| >> std: the two-pass form matters
    for (int64_t correction : {0, 1, 2, 3, 5}) {
      BackendCase c{case_name("var", x.shape(), dtype, "correction " + std::to_string(correction)), {x},
                    [correction](const std::vector<Tensor>& in) { return var(in[0], {1}, correction, true); }};
      c.forward = reduce_tolerance(dtype);
      c.backward = gradient_tolerance(dtype);
      c.grad = correction < 3;  // N - correction <= 0: inf/NaN forward (compared), a meaningless gradient
      check_backend(c);
    }
  }
}
