// reduce.cpp — reductions over a set of dims and the dim-wise normalizers.
// Convention: the kernels write the "keepdim" shape (reduced dims = 1); the op squeezes them after
// when keepdim is false. Accumulation is in double (int64 for int64) in row-major input order, so
// results do not depend on threading.
#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "tensor/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

// x's shape with `dims` set to 1.
static Shape keepdim_shape(const Shape& shape, const Dims& dims) {
  Shape s = shape;
  for (int64_t d : dims) s[d] = 1;
  return s;
}

// x's shape with `dims` removed.
static Shape reduced_shape(const Shape& shape, const Dims& dims) {
  Shape s;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) s.push_back(shape[i]);
  return s;
}

// Broadcasts a reduced gradient back over the reduced dims: (keepdim shape) -> input shape.
static Tensor expand_reduced(const Tensor& g, const Shape& keep_shape, const Shape& input_shape) {
  return g.reshape(keep_shape).expand(input_shape);
}

// sum: y = sum_{reduced dims} x        gx = g broadcast back over the reduced dims
struct SumBackward final : Node {
  Shape input_shape, keep_shape;
  SumBackward(Shape in, Shape keep) : input_shape(std::move(in)), keep_shape(std::move(keep)) {}
  const char* name() const override { return "sum_backward"; }
  TensorList backward(const Tensor& g) override { return {expand_reduced(g, keep_shape, input_shape)}; }
};

Tensor sum(const Tensor& x, const Dims& dims_in, bool keepdim) {
  Dims dims = wrap_dims(dims_in, x.dim(), "sum");
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out = empty(keep, x.options());
  sum_kernel(x.device())(x, out);
  if (!keepdim) out = out.view(reduced_shape(x.shape(), dims));
  record_op<SumBackward>(out, {x}, {}, x.shape(), keep);
  return out;
}

// mean: y = sum(x) / n, n = number of reduced elements     gx = g / n broadcast back
struct MeanBackward final : Node {
  Shape input_shape, keep_shape;
  double count;
  MeanBackward(Shape in, Shape keep, double n) : input_shape(std::move(in)), keep_shape(std::move(keep)), count(n) {}
  const char* name() const override { return "mean_backward"; }
  TensorList backward(const Tensor& g) override {
    return {expand_reduced(g / count, keep_shape, input_shape)};
  }
};

Tensor mean(const Tensor& x, const Dims& dims_in, bool keepdim) {
  CXR_CHECK(is_floating(x.dtype()), "mean: needs a floating tensor, got ", dtype_name(x.dtype()));
  Dims dims = wrap_dims(dims_in, x.dim(), "mean");
  Shape keep = keepdim_shape(x.shape(), dims);
  double count = double(x.numel()) / double(std::max<int64_t>(shape_numel(keep), 1));
  if (x.numel() == 0) count = 0;
  Tensor out;
  {
    NoGradGuard no_grad;
    out = sum(x, dims, keepdim) / count;
  }
  record_op<MeanBackward>(out, {x}, {}, x.shape(), keep, count);
  return out;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  CXR_CHECK(x.dim() >= static_cast<int64_t>(shape.size()), "sum_to: cannot reduce shape ", shape_str(x.shape()),
            " to ", shape_str(shape));
  size_t lead = x.dim() - shape.size();
  Dims dims;
  for (size_t i = 0; i < static_cast<size_t>(x.dim()); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else {
      int64_t want = shape[i - lead];
      CXR_CHECK(want == x.shape()[i] || want == 1, "sum_to: shape ", shape_str(shape),
                " does not broadcast to ", shape_str(x.shape()));
      if (want == 1 && x.shape()[i] != 1) dims.push_back(i);
    }
  }
  if (dims.empty()) return x.reshape(shape);
  return sum(x, dims, true).reshape(shape);
}

// ======================= reference CPU kernels =======================
// sum: walk x in row-major order; `out` viewed with x's shape and stride 0 along the reduced dims
// gives each element's destination, so the loop is one line.
static void sum_cpu(const Tensor& x, const Tensor& out) {
  visit_numeric(x.dtype(), "sum", [&]<typename T>() {
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
    std::vector<Acc> acc(out.numel(), Acc(0));
    Strides acc_strides = contiguous_strides(out.shape());
    for (int64_t d = 0; d < x.dim(); ++d)
      if (out.shape()[d] == 1) acc_strides[d] = 0;
    const T* px = x.data<T>();
    for_each_offset<2>(x.shape(), {x.strides(), acc_strides},
                       [&](const Offsets<2>& o) { acc[o[1]] += Acc(px[o[0]]); });
    T* po = out.data<T>();
    int64_t i = 0;
    for_each_offset<1>(out.shape(), {out.strides()}, [&](const Offsets<1>& o) { po[o[0]] = T(acc[i++]); });
  });
}

KernelTable<SumFn> sum_kernel{"sum", sum_cpu};

}  // namespace cxr
