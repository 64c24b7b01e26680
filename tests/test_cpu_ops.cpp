// test_cpu_ops.cpp — the fast elementwise, copy/fill and batch-norm kernels (tensor/cpu/
// elementwise.cpp, norm.cpp) against the reference kernels: contiguous, transposed, strided and
// offset operands, broadcasts (scalar, row, per-channel, both sides), odd sizes, float32 and
// float64, every instruction set, 1 and 2 threads (bit-identical). Maps compute each element by
// the reference's expression, so they must match exactly; batch norm rounds per-channel
// coefficients to the tensor's type, so it is held to a rounding bound.
#include "cpu_testing.h"
#include "tensor/cpu/kernels.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// Runs run(out) on every configuration into a fresh tensor like `expected`: within `bound` (0:
// exact) of expected, and identical between 1 and 2 threads.
template <typename Run>
void check_configs(const Tensor& expected, const Tensor& bound, const std::string& what, Run run) {
  for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (isa > cpu::detected_isa()) continue;
    Tensor one = empty(expected.shape(), expected.options()), two = empty(expected.shape(), expected.options());
    {
      ScopedCpuConfig c({isa, 1});
      run(one);
    }
    {
      ScopedCpuConfig c({isa, 2});
      run(two);
    }
    check_within(one, expected, bound, what + ", " + cpu::isa_name(isa));
    check_identical(one, two, what + ", " + cpu::isa_name(isa) + ": 1 vs 2 threads");
  }
}
void check_exact(const Tensor& expected, const std::string& what, const std::function<void(const Tensor&)>& run) {
  check_configs(expected, scalar_tensor(0.0, {.dtype = DType::Float64}), what, run);
}

// Shapes with odd sizes, one large enough to be split over threads.
const Shape kShapes[] = {{7}, {3, 5, 17}, {2, 3, 33, 65}, {300, 257}};

}  // namespace

TEST_CASE("unary_fast equals the reference for every op it implements, on every layout") {
  const UnaryOp ops[] = {UnaryOp::Neg,      UnaryOp::Abs,  UnaryOp::Relu,          UnaryOp::ReluMask, UnaryOp::Sqrt,
                         UnaryOp::Rsqrt,    UnaryOp::Exp,  UnaryOp::Log,           UnaryOp::Tanh,     UnaryOp::Sigmoid,
                         UnaryOp::Softplus, UnaryOp::Gelu, UnaryOp::GeluDerivative};
  uint64_t seed = 1;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts) {
        if (layout == Layout::Transposed && shape.size() < 2) continue;
        Tensor x = random_tensor(shape, dtype, ++seed, layout) * 3.0;
        x.set(std::vector<int64_t>(shape.size(), 0), 0.0);  // relu's kink and sign's zero
        const Tensor positive = abs(x) + 0.5;               // for sqrt, rsqrt, log
        for (UnaryOp op : ops) {
          const bool needs_positive = op == UnaryOp::Sqrt || op == UnaryOp::Rsqrt || op == UnaryOp::Log;
          const Tensor in = needs_positive ? (layout == Layout::Contiguous ? positive : positive.contiguous()) : x;
          const UnaryParams params{op == UnaryOp::Softplus ? 2.0 : 1.0, 5.0};
          Tensor expected = empty(shape, {.dtype = dtype});
          unary_kernel.cpu_reference()(op, in, expected, params);
          // Exact, except GELU's derivative cdf + x pdf, which an FMA instruction set contracts.
          const Tensor bound = op == UnaryOp::GeluDerivative ? abs(expected) * (2 * unit_roundoff(dtype)) + 1e-300
                                                             : scalar_tensor(0.0, {.dtype = DType::Float64});
          check_configs(expected, bound,
                        detail::concat("unary op ", int(op), " ", dtype_name(dtype), " ", shape_str(shape), " ",
                                       layout_name(layout)),
                        [&](const Tensor& out) { unary_kernel.cpu_fast()(op, in, out, params); });
        }
      }
}

TEST_CASE("binary_fast equals the reference: every op, broadcast patterns, layouts") {
  const BinaryOp ops[] = {BinaryOp::Add,     BinaryOp::Sub,     BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow,
                          BinaryOp::Maximum, BinaryOp::Minimum, BinaryOp::Eq,  BinaryOp::Ne,  BinaryOp::Lt,
                          BinaryOp::Le,      BinaryOp::Gt,      BinaryOp::Ge};
  struct Pattern {
    const char* name;
    Shape a, b;
    Layout la, lb;
  };
  const Pattern patterns[] = {
      {"same shape", {3, 5, 17}, {3, 5, 17}, Layout::Contiguous, Layout::Contiguous},
      {"same shape, large", {300, 257}, {300, 257}, Layout::Contiguous, Layout::Offset},
      {"scalar right", {2, 3, 33, 65}, {}, Layout::Contiguous, Layout::Contiguous},
      {"scalar left", {}, {300, 257}, Layout::Contiguous, Layout::Contiguous},
      {"row broadcast", {37, 13}, {13}, Layout::Contiguous, Layout::Contiguous},
      {"per-channel broadcast", {2, 3, 33, 65}, {1, 3, 1, 1}, Layout::Contiguous, Layout::Contiguous},
      {"column broadcast", {37, 13}, {37, 1}, Layout::Contiguous, Layout::Contiguous},
      {"both broadcast", {4, 1, 9}, {1, 5, 1}, Layout::Contiguous, Layout::Contiguous},
      {"transposed", {33, 65}, {33, 65}, Layout::Transposed, Layout::Contiguous},
      {"strided", {33, 65}, {33, 65}, Layout::Strided, Layout::Strided},
  };
  uint64_t seed = 100;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Pattern& pt : patterns) {
      Tensor a = random_tensor(pt.a, dtype, ++seed, pt.la), b = random_tensor(pt.b, dtype, ++seed, pt.lb);
      if (b.numel() > 1) b.set(std::vector<int64_t>(pt.b.size(), 0), a.numel() > 1 ? 0.0 : a.item());  // some ties
      const Shape shape = broadcast_shapes(pt.a, pt.b, "test");
      const Tensor ae = a.expand(shape), be = b.expand(shape);
      const Tensor positive_a = (abs(a) + 0.5).expand(shape);  // pow's base
      for (BinaryOp op : ops) {
        const bool compare = op >= BinaryOp::Eq;
        const Tensor& left = op == BinaryOp::Pow ? positive_a : ae;
        Tensor expected = empty(shape, {.dtype = compare ? DType::Bool : dtype});
        binary_kernel.cpu_reference()(op, left, be, expected);
        check_exact(expected, detail::concat("binary op ", int(op), " ", dtype_name(dtype), " ", pt.name),
                    [&](const Tensor& out) { binary_kernel.cpu_fast()(op, left, be, out); });
      }
    }
}

TEST_CASE("copy_fast and fill_fast equal the reference") {
  uint64_t seed = 200;
  for (DType dtype : {DType::Float32, DType::Float64, DType::Int64})
    for (const Shape& shape : kShapes)
      for (Layout layout : kLayouts) {
        if (layout == Layout::Transposed && shape.size() < 2) continue;
        Tensor src = random_tensor(shape, DType::Float64, ++seed, layout) * 100.0;
        if (dtype != DType::Float64) src = src.to(dtype);  // contiguous, in that dtype
        if (dtype != DType::Float64 && layout == Layout::Transposed)
          src = src.transpose(-1, -2).contiguous().transpose(-1, -2);
        Tensor expected = empty(shape, {.dtype = dtype});
        copy_kernel.cpu_reference()(expected, src);
        const std::string what = detail::concat(dtype_name(dtype), " ", shape_str(shape), " ", layout_name(layout));
        check_exact(expected, "copy " + what, [&](const Tensor& out) { copy_kernel.cpu_fast()(out, src); });
        // into a non-contiguous destination, and with a conversion
        if (shape.size() >= 2) {
          Shape t = shape;
          std::swap(t[t.size() - 1], t[t.size() - 2]);
          Tensor dst = zeros(t, {.dtype = dtype}).transpose(-1, -2);
          copy_kernel.cpu_fast()(dst, src);
          check_within(dst, expected, 0.0, "copy into a transposed view " + what);
        }
        Tensor converted = empty(shape, {.dtype = DType::Float32}),
               converted_ref = empty(shape, {.dtype = DType::Float32});
        copy_kernel.cpu_fast()(converted, src);
        copy_kernel.cpu_reference()(converted_ref, src);
        check_identical(converted, converted_ref, "copy with conversion " + what);
        Tensor filled = empty(shape, {.dtype = dtype}), filled_ref = empty(shape, {.dtype = dtype});
        fill_kernel.cpu_fast()(filled, 2.75);
        fill_kernel.cpu_reference()(filled_ref, 2.75);
        check_identical(filled, filled_ref, "fill " + what);
      }
}

TEST_CASE("batch_norm fast kernels: forward (train, eval) and backward within rounding of the reference") {
  struct Case {
    const char* name;
    Shape shape;
    int layout;  // 0 contiguous, 1 a slice of channels (planes contiguous, irregular plane strides), 2 channels-last
    bool affine;
  };
  const Case cases[] = {{"NCHW", {4, 3, 17, 19}, 0, true},
                        {"NCHW without affine", {2, 5, 8, 9}, 0, false},
                        {"channel slice", {3, 4, 11, 13}, 1, true},
                        {"channels-last (reference path)", {2, 3, 5, 7}, 2, true},
                        {"N C L", {5, 6, 33}, 0, true},
                        {"large planes", {2, 8, 64, 65}, 0, true}};
  uint64_t seed = 300;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Case& c : cases)
      for (bool training : {true, false}) {
        const int64_t C = c.shape[1];
        // Roundings in the dtype, plus the statistics' double sums of M terms in another order than
        // the reference's (relative error up to ~M * 1.1e-16: visible in float64 only).
        const double u = unit_roundoff(dtype) + double(shape_numel(c.shape) / C) * 2.3e-16;
        Tensor x;
        if (c.layout == 0) {
          x = random_tensor(c.shape, dtype, ++seed) * 2.0 + 0.5;
        } else if (c.layout == 1) {
          Shape wide = c.shape;
          wide[1] += 3;
          x = random_tensor(wide, dtype, ++seed).narrow(1, 2, C);
        } else {
          Shape last = c.shape;
          last.erase(last.begin() + 1);
          last.push_back(C);
          x = random_tensor(last, dtype, ++seed).permute({0, 3, 1, 2});
        }
        Tensor w = c.affine ? random_tensor({C}, dtype, ++seed) : Tensor();
        Tensor b = c.affine ? random_tensor({C}, dtype, ++seed) : Tensor();
        Tensor rm = random_tensor({C}, dtype, ++seed) * 0.1, rv = abs(random_tensor({C}, dtype, ++seed)) + 0.5;
        const std::string what = detail::concat(dtype_name(dtype), " ", c.name, training ? " train" : " eval");

        // forward, reference: the output, the statistics, the updated running statistics
        Tensor out_ref = empty(c.shape, {.dtype = dtype}), mean_ref = empty({C}, {.dtype = dtype}),
               invstd_ref = empty({C}, {.dtype = dtype});
        Tensor rm_ref = rm.clone(), rv_ref = rv.clone();
        batch_norm_forward_kernel.cpu_reference()(x, w, b, rm_ref, rv_ref, training, 0.1, 1e-5, out_ref, mean_ref,
                                                  invstd_ref);
        // y = scale x + shift with per-channel scale and shift rounded to the dtype: a few roundings of
        // |scale x| + |shift|.
        Shape cshape(c.shape.size(), 1);
        cshape[1] = C;
        Tensor scale = (c.affine ? w : ones({C}, {.dtype = dtype})) * invstd_ref;
        Tensor shift = (c.affine ? b : zeros({C}, {.dtype = dtype})) - mean_ref * scale;
        Tensor out_bound = (abs(x * scale.reshape(cshape)) + abs(shift.reshape(cshape))) * (8 * u) + 1e-300;
        for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
          if (isa > cpu::detected_isa()) continue;
          Tensor outs[2], means[2], invstds[2], rms[2], rvs[2];
          for (int t = 0; t < 2; ++t) {
            ScopedCpuConfig config({isa, t + 1});
            outs[t] = empty(c.shape, {.dtype = dtype});
            means[t] = empty({C}, {.dtype = dtype});
            invstds[t] = empty({C}, {.dtype = dtype});
            rms[t] = rm.clone();
            rvs[t] = rv.clone();
            batch_norm_forward_kernel.cpu_fast()(x, w, b, rms[t], rvs[t], training, 0.1, 1e-5, outs[t], means[t],
                                                 invstds[t]);
          }
          const std::string at = what + ", " + cpu::isa_name(isa);
          check_within(outs[0], out_ref, out_bound, at + ": forward");
          check_within(means[0], mean_ref, abs(mean_ref) * (4 * u) + 1e-300, at + ": saved mean");
          check_within(invstds[0], invstd_ref, abs(invstd_ref) * (4 * u), at + ": saved invstd");
          check_within(rms[0], rm_ref, abs(rm_ref) * (4 * u) + 1e-300, at + ": running mean");
          check_within(rvs[0], rv_ref, abs(rv_ref) * (4 * u), at + ": running var");
          check_identical(outs[0], outs[1], at + ": forward, 1 vs 2 threads");
          check_identical(rvs[0], rvs[1], at + ": running var, 1 vs 2 threads");
        }

        // backward, from the reference statistics
        Tensor g = random_tensor(c.shape, dtype, ++seed, Layout::Offset);
        Tensor gx_ref = empty(c.shape, {.dtype = dtype});
        Tensor gw_ref = c.affine ? empty({C}, {.dtype = dtype}) : Tensor();
        Tensor gb_ref = c.affine ? empty({C}, {.dtype = dtype}) : Tensor();
        batch_norm_backward_kernel.cpu_reference()(g, x, w, mean_ref, invstd_ref, training, gx_ref, gw_ref, gb_ref);
        // gx = a g + b x + c per channel (coefficients rounded to the dtype); bound the roundings of the
        // three terms by those of |g| k and |xhat| k (k = w invstd) times the sums they carry.
        Dims not_c;
        for (int64_t d = 0; d < x.dim(); ++d)
          if (d != 1) not_c.push_back(d);
        const double M = double(x.numel() / C);
        Tensor k = abs(scale).reshape(cshape);
        Tensor xhat = abs((x - mean_ref.reshape(cshape)) * invstd_ref.reshape(cshape));
        Tensor sum_abs_g = sum(abs(g), not_c, true);
        Tensor gx_bound = (abs(g) * k + (xhat + 1) * k * sum_abs_g * (1.0 / M) *
                                            (1 + 4 * abs(mean_ref.reshape(cshape)) * invstd_ref.reshape(cshape))) *
                              (16 * u) +
                          1e-300;
        check_configs(gx_ref, gx_bound, what + ": backward input", [&](const Tensor& gx) {
          Tensor gw = c.affine ? empty({C}, {.dtype = dtype}) : Tensor();
          Tensor gb = c.affine ? empty({C}, {.dtype = dtype}) : Tensor();
          batch_norm_backward_kernel.cpu_fast()(g, x, w, mean_ref, invstd_ref, training, gx, gw, gb);
          if (c.affine) {
            check_within(gb, gb_ref, sum_abs_g.reshape({C}) * (8 * u), what + ": grad bias");
            check_within(gw, gw_ref, sum(abs(g) * xhat, not_c) * (8 * u) + 1e-300, what + ": grad weight");
          }
        });
      }
}

TEST_CASE("sum_fast matches the reference: full, inner, outer and middle reductions") {
  struct Case {
    Shape shape;
    Dims dims;
  };
  const Case cases[] = {{{300, 257}, {}},    {{300, 257}, {1}}, {{300, 257}, {0}}, {{2, 3, 33, 65}, {0, 2, 3}},
                        {{4, 5, 6}, {0, 2}}, {{7}, {0}},        {{100000}, {}},    {{3, 1, 5}, {2}},
                        {{4, 5, 6}, {1}} /* kept dims split */};
  uint64_t seed = 400;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Case& c : cases) {
      Tensor x = random_tensor(c.shape, dtype, ++seed);
      Shape keep = c.shape;
      if (c.dims.empty())
        for (auto& s : keep) s = 1;
      for (int64_t d : c.dims) keep[d] = 1;
      Tensor expected = empty(keep, {.dtype = dtype}), abs_sum = empty(keep, {.dtype = dtype});
      sum_kernel.cpu_reference()(x, expected);
      sum_kernel.cpu_reference()(abs(x), abs_sum);
      // Both accumulate in double (in different orders): the difference is the final rounding.
      const Tensor bound = abs_sum * (2 * unit_roundoff(dtype) + double(x.numel()) * 2.3e-16) + 1e-300;
      check_configs(expected, bound, detail::concat("sum ", dtype_name(dtype), " ", shape_str(c.shape)),
                    [&](const Tensor& out) { sum_kernel.cpu_fast()(x, out); });
    }
}

TEST_CASE("softmax_fast and log_softmax match the reference within a few ulp") {
  uint64_t seed = 450;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Shape& shape : {Shape{7}, Shape{3, 5, 17}, Shape{64, 320}, Shape{2, 3, 33, 65}})
      for (bool log : {false, true}) {
        Tensor x = random_tensor(shape, dtype, ++seed) * 8.0;
        x.set(std::vector<int64_t>(shape.size(), 0), -INFINITY);  // a masked element
        Tensor expected = empty(shape, {.dtype = dtype});
        softmax_kernel.cpu_reference()(x, x.dim() - 1, log, expected);
        // softmax: a few float roundings of each value (exp within 2 ulp, the division); log: the
        // rounding of (x - max) - log(sum) relative to the larger of its terms.
        const double u = unit_roundoff(dtype) + double(shape.back()) * 2.3e-16;  // + the double sum's order
        Tensor bound = log ? (abs(x) + abs(expected) + 1.0) * (8 * u) : abs(expected) * (8 * u) + 1e-300;
        check_configs(expected, bound,
                      detail::concat(log ? "log_softmax " : "softmax ", dtype_name(dtype), " ", shape_str(shape)),
                      [&](const Tensor& out) { softmax_kernel.cpu_fast()(x, x.dim() - 1, log, out); });
      }
  // Not the last dim, or not contiguous: the reference path, bit-identical.
  Tensor x = random_tensor({5, 6, 7}, DType::Float32, 470, Layout::Transposed);
  Tensor expected = empty({5, 6, 7}), got = empty({5, 6, 7});
  softmax_kernel.cpu_reference()(x, 1, false, expected);
  softmax_kernel.cpu_fast()(x, 1, false, got);
  check_identical(got, expected, "softmax along dim 1 of a transposed tensor");
}

TEST_CASE("layer_norm fast kernels: forward and backward within rounding of the reference") {
  struct Case {
    Shape shape;
    int64_t k;  // normalized trailing dims
    bool affine;
  };
  const Case cases[] = {{{8, 320, 256}, 1, true}, {{5, 7}, 1, false}, {{3, 4, 5, 6}, 2, true}, {{2, 1000}, 1, true}};
  uint64_t seed = 480;
  for (DType dtype : {DType::Float32, DType::Float64})
    for (const Case& c : cases) {
      const Shape norm_shape(c.shape.end() - c.k, c.shape.end());
      const int64_t D = shape_numel(norm_shape), rows = shape_numel(c.shape) / D;
      const double u = unit_roundoff(dtype) + double(D) * 2.3e-16;
      Tensor x = random_tensor(c.shape, dtype, ++seed) * 3.0 + 1.0;
      Tensor w = c.affine ? random_tensor(norm_shape, dtype, ++seed) : Tensor();
      Tensor b = c.affine ? random_tensor(norm_shape, dtype, ++seed) : Tensor();
      Shape lead(c.shape.begin(), c.shape.end() - c.k);
      Tensor out_ref = empty(c.shape, {.dtype = dtype}), mean_ref = empty(lead, {.dtype = dtype}),
             rstd_ref = empty(lead, {.dtype = dtype});
      layer_norm_forward_kernel.cpu_reference()(x, c.k, w, b, 1e-5, out_ref, mean_ref, rstd_ref);
      Shape row_shape = lead;
      for (int64_t i = 0; i < c.k; ++i) row_shape.push_back(1);
      const Tensor aw = c.affine ? abs(w) : ones(norm_shape, {.dtype = dtype});
      const Tensor xhat = abs((x - mean_ref.reshape(row_shape)) * rstd_ref.reshape(row_shape));
      const Tensor out_bound = ((abs(x) + abs(mean_ref.reshape(row_shape))) * rstd_ref.reshape(row_shape) * aw +
                                (c.affine ? abs(b) : zeros(norm_shape, {.dtype = dtype}))) *
                                   (8 * u) +
                               1e-300;
      const std::string what = detail::concat(dtype_name(dtype), " layer_norm ", shape_str(c.shape), " k=", c.k);
      for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
        if (isa > cpu::detected_isa()) continue;
        Tensor outs[2], means[2], rstds[2];
        for (int t = 0; t < 2; ++t) {
          ScopedCpuConfig config({isa, t + 1});
          outs[t] = empty(c.shape, {.dtype = dtype});
          means[t] = empty(lead, {.dtype = dtype});
          rstds[t] = empty(lead, {.dtype = dtype});
          layer_norm_forward_kernel.cpu_fast()(x, c.k, w, b, 1e-5, outs[t], means[t], rstds[t]);
        }
        const std::string at = what + ", " + cpu::isa_name(isa);
        check_within(outs[0], out_ref, out_bound, at + ": forward");
        check_within(means[0], mean_ref, abs(mean_ref) * (4 * u) + 1e-300, at + ": mean");
        check_within(rstds[0], rstd_ref, abs(rstd_ref) * (4 * u), at + ": rstd");
        check_identical(outs[0], outs[1], at + ": 1 vs 2 threads");
      }
      // backward from the reference statistics
      Tensor g = random_tensor(c.shape, dtype, ++seed);
      Tensor gx_ref = empty(c.shape, {.dtype = dtype});
      Tensor gw_ref = c.affine ? empty(norm_shape, {.dtype = dtype}) : Tensor();
      Tensor gb_ref = c.affine ? empty(norm_shape, {.dtype = dtype}) : Tensor();
      layer_norm_backward_kernel.cpu_reference()(g, x, c.k, w, mean_ref, rstd_ref, gx_ref, gw_ref, gb_ref);
      Dims norm_dims, row_dims;
      for (int64_t d = 0; d < x.dim(); ++d) (d >= x.dim() - c.k ? norm_dims : row_dims).push_back(d);
      const Tensor gw_abs = abs(g) * aw;  // |g w|
      const Tensor row_sum = sum(gw_abs * (xhat + 1), norm_dims, true) * (1.0 / double(D));
      const Tensor gx_bound =
          (gw_abs + row_sum * (xhat + 1 + 2 * abs(mean_ref.reshape(row_shape)) * rstd_ref.reshape(row_shape))) *
              rstd_ref.reshape(row_shape) * (16 * u) +
          1e-300;
      check_configs(gx_ref, gx_bound, what + ": backward input", [&](const Tensor& gx) {
        Tensor gw = c.affine ? empty(norm_shape, {.dtype = dtype}) : Tensor();
        Tensor gb = c.affine ? empty(norm_shape, {.dtype = dtype}) : Tensor();
        layer_norm_backward_kernel.cpu_fast()(g, x, c.k, w, mean_ref, rstd_ref, gx, gw, gb);
        if (c.affine) {
          const double ur = unit_roundoff(dtype) + double(rows) * 2.3e-16;
          check_within(gb, gb_ref, sum(abs(g), row_dims) * (4 * ur) + 1e-300, what + ": grad bias");
          check_within(gw, gw_ref, sum(abs(g) * xhat, row_dims) * (4 * ur) + 1e-300, what + ": grad weight");
        }
      });
    }
}

TEST_CASE("dropout_mask_fast draws the reference's Philox mask exactly") {
  for (DType dtype : {DType::Float32, DType::Float64})
    for (int64_t n : {int64_t(1), int64_t(1000), int64_t(100003)}) {
      Tensor expected = empty({n}, {.dtype = dtype});
      dropout_mask_kernel.cpu_reference()(expected, 0.3, 1.0 / 0.7, 1234, 99);
      check_exact(expected, detail::concat("dropout mask ", dtype_name(dtype), " n=", n),
                  [&](const Tensor& out) { dropout_mask_kernel.cpu_fast()(out, 0.3, 1.0 / 0.7, 1234, 99); });
    }
  // A strided mask: the reference path, equal too.
  Tensor wide = empty({10, 20}), ref = empty({10, 20});
  dropout_mask_kernel.cpu_fast()(wide.t(), 0.5, 2.0, 7, 0);
  dropout_mask_kernel.cpu_reference()(ref.t(), 0.5, 2.0, 7, 0);
  check_identical(wide, ref, "dropout mask through a transposed view");
}
