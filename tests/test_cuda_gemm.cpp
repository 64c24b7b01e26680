// test_cuda_gemm.cpp — the CUDA bmm kernel (cuda/gemm.cu, on the GEMM core of cuda/gemm.cuh) against
// the CPU reference through matmul, forward and backward (cuda_testing.h): 1-D, 2-D, batched,
// broadcast (stride-0 batches read in place) and transposed operands, partial tiles at every edge
// (M, N, K among 1, 17, 65, 130: one or several 128-wide float32 and 64-wide float64 tiles, K steps
// of 8 with a partial last one), K == 0 and empty products, float32 and float64, each run twice.
// Tolerances: sum_tolerance (cuda_testing.h) of the longest reduction of each pass: K forward, N for
// the gradient of a (g b^T), M times the folded batch for b's (a^T g).
#include <algorithm>

#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

struct GemmShape {
  int64_t M, K, N;
};

// A (rows x cols) input, stored transposed when `transposed` (the op then reads it through .t()).
Tensor matrix_input(int64_t rows, int64_t cols, bool transposed, DType dtype, uint64_t seed) {
  return random_input(transposed ? Shape{cols, rows} : Shape{rows, cols}, dtype, seed);
}

void check_matmul(const std::string& name, std::vector<Tensor> inputs, std::function<Tensor(const std::vector<Tensor>&)> op,
                  DType dtype, int64_t forward_k, int64_t backward_k, bool grad = true) {
  BackendCase c{name + " " + dtype_name(dtype), std::move(inputs), std::move(op)};
  c.forward = sum_tolerance(dtype, forward_k);
  c.backward = sum_tolerance(dtype, backward_k);
  c.grad = grad;
  check_backend(c);
}

}  // namespace

TEST_CASE("cuda matmul: 2-D, partial tiles at every edge, transposed operands, float32 and float64") {
  if (!cuda_ready()) return;
  const std::vector<GemmShape> shapes = {{1, 1, 1},   {17, 65, 130}, {130, 17, 65}, {65, 130, 17},
                                         {1, 130, 17}, {130, 1, 1},  {17, 1, 130}, {129, 64, 65}};
  uint64_t seed = 1;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const GemmShape& s : shapes)
      for (int layout = 0; layout < 4; ++layout) {
        const bool a_t = layout & 1, b_t = layout & 2;
        const std::string name = "matmul " + shape_str({s.M, s.K}) + (a_t ? "^T" : "") + " . " + shape_str({s.K, s.N}) +
                                 (b_t ? "^T" : "");
        check_matmul(name, {matrix_input(s.M, s.K, a_t, dtype, seed++), matrix_input(s.K, s.N, b_t, dtype, seed++)},
                     [a_t, b_t](const std::vector<Tensor>& in) {
                       return matmul(a_t ? in[0].t() : in[0], b_t ? in[1].t() : in[1]);
                     },
                     dtype, s.K, std::max(s.M, s.N));
      }
}

TEST_CASE("cuda matmul: 1-D operands (dot, vector-matrix, matrix-vector, batch-vector)") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    check_matmul("dot (65) . (65)", {random_input({65}, dtype, 11), random_input({65}, dtype, 12)}, mm, dtype, 65, 1);
    check_matmul("(65) . (65, 17)", {random_input({65}, dtype, 13), random_input({65, 17}, dtype, 14)}, mm, dtype, 65, 17);
    check_matmul("(130, 65) . (65)", {random_input({130, 65}, dtype, 15), random_input({65}, dtype, 16)}, mm, dtype, 65,
                 130);
    check_matmul("(3, 17, 65) . (65)", {random_input({3, 17, 65}, dtype, 17), random_input({65}, dtype, 18)}, mm, dtype,
                 65, 3 * 17);
  }
}

TEST_CASE("cuda matmul: batched, broadcast batches (stride 0) and transposed batch operands") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    check_matmul("(3, 17, 65) . (3, 65, 33)", {random_input({3, 17, 65}, dtype, 21), random_input({3, 65, 33}, dtype, 22)},
                 mm, dtype, 65, 33);
    // b stored (3, 33, 65) and read as its transpose, a as every other batch element of (6, 17, 65).
    check_matmul("(6, 17, 65)[::2] . (3, 33, 65)^T", {random_input({6, 17, 65}, dtype, 23), random_input({3, 33, 65}, dtype, 24)},
                 [](const std::vector<Tensor>& in) { return matmul(in[0].slice(0, 0, 6, 2), in[1].transpose(1, 2)); }, dtype,
                 65, 33);
    // One right-hand matrix for every batch element: folded into one (B*M, K) GEMM, b's gradient
    // one (K, B*M) . (B*M, N) GEMM.
    check_matmul("(2, 3, 17, 65) . (65, 33)", {random_input({2, 3, 17, 65}, dtype, 25), random_input({65, 33}, dtype, 26)},
                 mm, dtype, 65, 2 * 3 * 17);
    // One left-hand matrix for every batch element: a reaches the kernel as a stride-0 batch, in
    // the forward and (transposed) in b's gradient. a is a constant here: its gradient is a sum over
    // the batch (the reduction kernels', not this file's).
    const Tensor a = random_input({17, 65}, dtype, 27);
    check_matmul("(17, 65) . (3, 65, 33), a broadcast", {random_input({3, 65, 33}, dtype, 28)},
                 [a](const std::vector<Tensor>& in) { return matmul(copy_to(a, in[0].device()), in[0]); }, dtype, 65, 17);
    // Both batch dims broadcast (2, 1) x (3): forward only (both gradients are batch sums).
    check_matmul("(2, 1, 17, 65) . (3, 65, 33)", {random_input({2, 1, 17, 65}, dtype, 29), random_input({3, 65, 33}, dtype, 30)},
                 mm, dtype, 65, 1, /*grad=*/false);
  }
}

TEST_CASE("cuda matmul: K == 0 gives zeros, empty products give empty tensors") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
    check_matmul("(3, 0) . (0, 4)", {random_input({3, 0}, dtype, 31), random_input({0, 4}, dtype, 32)}, mm, dtype, 0, 4);
    check_matmul("(0, 5) . (5, 3)", {random_input({0, 5}, dtype, 33), random_input({5, 3}, dtype, 34)}, mm, dtype, 5, 3);
    check_matmul("(2, 0, 5) . (2, 5, 3)", {random_input({2, 0, 5}, dtype, 35), random_input({2, 5, 3}, dtype, 36)}, mm, dtype,
                 5, 3);
  }
  // The zeros are written, not left over: the output is a fresh (uninitialized) device tensor.
  const Tensor z = matmul(zeros({3, 0}, {.device = Device::CUDA}), zeros({0, 4}, {.device = Device::CUDA}));
  check_close(copy_to(z, Device::CPU), zeros({3, 4}), {0, 0}, "K == 0 on CUDA");
}
