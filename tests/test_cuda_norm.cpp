// test_cuda_norm.cpp — the CUDA batch norm, layer norm and dropout-mask kernels against the CPU
// reference (cuda_testing.h): batch norm in training and evaluation mode on (N, C) and (N, C, H, W),
// with and without affine parameters and running statistics (compared after their in-place
// update), strided inputs, the backward with each output wanted or not; layer norm over 1 and 2
// trailing dims; dropout masks equal to the CPU's bit for bit for several seeds, offsets and p.
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// Statistics accumulate in double on both sides (another order on the device), and the outputs
// are the same double expressions rounded to T: float32 within a rounding or two, float64 within
// the summation-order differences (~1e-15 relative) amplified by 1/std.
Tolerance norm_tolerance(DType dtype) { return dtype == DType::Float32 ? Tolerance{1e-5, 1e-6} : Tolerance{1e-11, 1e-12}; }

// batch_norm's output with the running statistics after the update appended (flattened), so
// that check_backend compares both. Inputs: x, weight, bias, running_mean, running_var (the
// last four may be undefined: `affine`, `running`).
Tensor batch_norm_and_stats(const std::vector<Tensor>& in, bool affine, bool running, bool training,
                            const std::function<Tensor(const Tensor&)>& view) {
  const Tensor x = view ? view(in[0]) : in[0];
  const Tensor w = affine ? in[1] : Tensor(), b = affine ? in[2] : Tensor();
  // Fresh buffers per run (the update is in place), outside the graph.
  const Tensor rm = running ? in[3].detach().clone() : Tensor(), rv = running ? in[4].detach().clone() : Tensor();
  const Tensor y = batch_norm(x, w, b, rm, rv, training, 0.3, 1e-5);
  if (!running) return y.flatten();
  return cat({y.flatten(), rm, rv});
}

void check_batch_norm(const Shape& shape, DType dtype, bool affine, bool running, bool training, uint64_t seed,
                      const std::string& layout = "", std::function<Tensor(const Tensor&)> view = nullptr) {
  const Tensor x0 = random_input(shape, dtype, seed) * 2.0 + 0.5;
  const int64_t C = (view ? view(x0) : x0).size(1);
  std::vector<Tensor> inputs = {x0, random_input({C}, dtype, seed + 1), random_input({C}, dtype, seed + 2),
                                random_input({C}, dtype, seed + 3), random_uniform({C}, dtype, 0.5, 2, seed + 4)};
  const std::string name = case_name("batch_norm", shape, dtype, layout) + (training ? " train" : " eval") +
                           (affine ? " affine" : " no affine") + (running ? " running stats" : " no running stats");
  BackendCase c{name, inputs, [=](const std::vector<Tensor>& in) { return batch_norm_and_stats(in, affine, running, training, view); }};
  c.forward = c.backward = norm_tolerance(dtype);
  check_backend(c);
}

// The defined gradients of each NormGrads, flattened and concatenated.
Tensor cat_defined(const std::vector<NormGrads>& grads) {
  std::vector<Tensor> parts;
  for (const NormGrads& r : grads)
    for (const Tensor& t : {r.x, r.weight, r.bias})
      if (t.defined()) parts.push_back(t.flatten());
  return cat(parts);
}

}  // namespace

TEST_CASE("cuda batch_norm: train and eval, (N, C) and (N, C, H, W), with and without affine and running stats") {
  if (!cuda_ready()) return;
  uint64_t seed = 1;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Shape& shape : std::vector<Shape>{{7, 5}, {3, 4, 5, 6}, {2, 3, 1, 1}})
      for (bool affine : {true, false}) {
        check_batch_norm(shape, dtype, affine, true, true, seed += 10);
        check_batch_norm(shape, dtype, affine, false, true, seed += 10);
        check_batch_norm(shape, dtype, affine, true, false, seed += 10);
      }
}

TEST_CASE("cuda batch_norm: strided inputs and a multi-block per-channel reduction (split into parts)") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    // NHWC memory seen as NCHW: every channel's elements strided.
    check_batch_norm({2, 5, 6, 3}, dtype, true, true, true, 100, "channels-last view",
                     [](const Tensor& t) { return t.permute({0, 3, 1, 2}); });
    check_batch_norm({6, 4}, dtype, true, true, false, 110, "transposed (C, N) -> (N, C)", [](const Tensor& t) { return t.t(); });
    // 12 800 values per channel: a block per channel, split into parts.
    check_batch_norm({8, 3, 40, 40}, dtype, true, true, true, 120, "large");
  }
}

TEST_CASE("cuda batch_norm_backward and layer_norm_backward: each gradient wanted or not") {
  if (!cuda_ready()) return;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    const Tensor x = random_input({4, 3, 5}, dtype, 200), g = random_input({4, 3, 5}, dtype, 201);
    const Tensor w = random_input({3}, dtype, 202), mean = random_input({3}, dtype, 203);
    const Tensor invstd = random_uniform({3}, dtype, 0.5, 2, 204);
    const Tensor lw = random_input({5}, dtype, 205), lmean = random_input({4, 3}, dtype, 206);
    const Tensor lrstd = random_uniform({4, 3}, dtype, 0.5, 2, 207);
    for (const std::array<bool, 3>& mask : std::vector<std::array<bool, 3>>{{true, false, false}, {false, true, true},
                                                                             {false, true, false}, {true, true, true}}) {
      const std::string wanted = " mask " + std::to_string(mask[0]) + std::to_string(mask[1]) + std::to_string(mask[2]) +
                                 " " + dtype_name(dtype);
      for (bool training : {true, false}) {
        BackendCase c{std::string("batch_norm_backward") + (training ? " train" : " eval") + wanted, {g, x, w, mean, invstd},
                      [mask, training](const std::vector<Tensor>& in) {
                        // And without the affine weight (taken as 1).
                        return cat_defined({batch_norm_backward(in[0], in[1], in[2], in[3], in[4], training, mask),
                                            batch_norm_backward(in[0], in[1], Tensor(), in[3], in[4], training, mask)});
                      }};
        c.grad = false;
        c.forward = norm_tolerance(dtype);
        check_backend(c);
      }
      BackendCase l{"layer_norm_backward" + wanted, {g, x, lw, lmean, lrstd}, [mask](const std::vector<Tensor>& in) {
                      // And a strided gradient without the affine weight.
                      const Tensor strided_g = in[0].transpose(0, 1).contiguous().transpose(0, 1);
                      return cat_defined({layer_norm_backward(in[0], in[1], {5}, in[2], in[3], in[4], mask),
                                          layer_norm_backward(strided_g, in[1], {5}, Tensor(), in[3], in[4], mask)});
                    }};
      l.grad = false;
      l.forward = norm_tolerance(dtype);
      check_backend(l);
    }
  }
}

TEST_CASE("cuda layer_norm: over 1 and 2 trailing dims, with and without affine, views, every path") {
  if (!cuda_ready()) return;
  struct LayerNormCase {
    Shape shape;
    Shape normalized;
    const char* what;
  };
  const std::vector<LayerNormCase> cases = {
      {{4, 7}, {7}, "rows of 7"},
      {{2, 3, 4, 5}, {4, 5}, "two trailing dims"},
      {{5}, {5}, "a single row"},
      {{300, 64}, {64}, "300 rows (a warp each; columns a warp each)"},
      {{3, 3000}, {3000}, "long rows (a block each)"},
      {{40, 1100}, {1100}, "1100 columns (a thread each in the backward)"},
      {{2, 3, 2, 5}, {2, 5}, "small, two dims"},
  };
  uint64_t seed = 300;
  for (const LayerNormCase& lc : cases)
    for (DType dtype : {DType::Float32, DType::Float64})
      for (bool affine : {true, false}) {
        const Shape normalized = lc.normalized;
        std::vector<Tensor> inputs = {random_input(lc.shape, dtype, seed) * 3.0 - 1.0, random_input(normalized, dtype, seed + 1),
                                      random_input(normalized, dtype, seed + 2)};
        seed += 3;
        BackendCase c{case_name("layer_norm", lc.shape, dtype, std::string(lc.what) + (affine ? " affine" : "")), inputs,
                      [normalized, affine](const std::vector<Tensor>& in) {
                        return layer_norm(in[0], normalized, affine ? in[1] : Tensor(), affine ? in[2] : Tensor(), 1e-5);
                      }};
        c.forward = c.backward = norm_tolerance(dtype);
        check_backend(c);
      }
  // Strided input and strided parameters.
  for (DType dtype : {DType::Float32, DType::Float64}) {
    BackendCase t{case_name("layer_norm", {6, 5, 4}, dtype, "permuted input, strided weight"),
                  {random_input({6, 5, 4}, dtype, 400), random_input({5, 2}, dtype, 401), random_input({5}, dtype, 402)},
                  [](const std::vector<Tensor>& in) {
                    return layer_norm(in[0].permute({2, 0, 1}), {5}, in[1].select(1, 1), in[2], 1e-3);
                  }};
    t.forward = t.backward = norm_tolerance(dtype);
    check_backend(t);
  }
}

TEST_CASE("cuda norms: empty batches") {
  if (!cuda_ready()) return;
  BackendCase bn{"batch_norm eval of an empty batch", {zeros({0, 3, 2}), random_input({3}, DType::Float32, 1),
                                                      random_uniform({3}, DType::Float32, 0.5, 2, 2)},
                 [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], false); }};
  check_backend(bn);
  BackendCase ln{"layer_norm of no rows", {zeros({0, 4}), random_input({4}, DType::Float32, 3)},
                 [](const std::vector<Tensor>& in) { return layer_norm(in[0], {4}, in[1]); }};
  check_backend(ln);
}

TEST_CASE("cuda dropout: masks equal the CPU's bit for bit for several seeds, offsets and p") {
  if (!cuda_ready()) return;
  const std::vector<std::pair<uint64_t, uint64_t>> states = {
      {0, 0}, {1, 12345}, {0xdeadbeefcafef00dull, 1ull << 33}, {42, (1ull << 32) - 100}};
  for (auto [seed, offset] : states)
    for (double p : {0.1, 0.5, 0.9, 1.0})
      for (DType dtype : {DType::Float32, DType::Float64}) {
        // Ones in: the output is the mask. 100 x 301 elements: many blocks, and counters that
        // cross a 2^32 boundary for the offsets near it.
        BackendCase c{case_name("dropout", {100, 301}, dtype, "p " + std::to_string(p)), {ones({100, 301}, {dtype})},
                      [seed, offset, p](const std::vector<Tensor>& in) {
                        Generator g(seed);
                        g.set_state(seed, offset);
                        return dropout(in[0], p, true, &g);
                      }};
        c.forward = c.backward = Tolerance{0, 0};  // the same bits: exactly equal
        check_backend(c);
      }
  // The kernel itself on a transposed (strided) mask: element i in row-major order of the view.
  for (DType dtype : {DType::Float32, DType::Float64}) {
    Tensor host = zeros({7, 9}, {dtype});
    Tensor dev = zeros({7, 9}, {dtype, Device::CUDA});
    dropout_mask_kernel.cpu_reference()(host.t(), 0.4, 2.5, 77, 1000);
    dropout_mask_kernel(Device::CUDA)(dev.t(), 0.4, 2.5, 77, 1000);
    CHECK(bitwise_equal(copy_to(dev, Device::CPU), host));
    const std::vector<double> v = host.to_vector();
    const int64_t dropped = std::count(v.begin(), v.end(), 0.0);
    CHECK(dropped > 10);  // p = 0.4 of 63: a mask, not a constant
    CHECK(dropped < 45);
  }
}
