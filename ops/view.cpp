// view.cpp — views: new (shape, strides, offset) over the same storage, no copy. Each is
// differentiable; its backward maps the view's gradient back to the input's shape:
//   view/reshape/squeeze/unsqueeze/flatten  reshape_backward: gx = gy.reshape(x.shape)
//   permute(order)                          permute_backward: gx = gy.permute(inverse(order))
//   slice/narrow/select                     slice_backward:   gx = zeros(x.shape); gx[slice] = gy
//   expand(shape)                           expand_backward:  gx = sum_to(gy, x.shape)
#include <algorithm>
#include <optional>

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr {

static Tensor make_view(const Tensor& x, Shape shape, Strides strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.impl()->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  impl->device = x.device();
  return Tensor(impl);
}

// ---- backward nodes ----
struct ReshapeBackward final : Node {
  Shape input_shape;
  explicit ReshapeBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "reshape_backward"; }
  TensorList backward(const Tensor& grad) override { return {grad.reshape(input_shape)}; }
};

struct PermuteBackward final : Node {
  Dims inverse;
  explicit PermuteBackward(Dims inv) : inverse(std::move(inv)) {}
  const char* name() const override { return "permute_backward"; }
  TensorList backward(const Tensor& grad) override { return {grad.permute(inverse)}; }
};

// Covers narrow, slice and select: the gradient is scattered into a zero tensor of the input's
// shape through the same view (select is a slice of length 1 followed by a squeeze).
struct SliceBackward final : Node {
  Shape input_shape;
  int64_t dim, start, end, step;
  bool squeezed;  // true for select
  SliceBackward(Shape s, int64_t d, int64_t b, int64_t e, int64_t st, bool sq)
      : input_shape(std::move(s)), dim(d), start(b), end(e), step(st), squeezed(sq) {}
  const char* name() const override { return "slice_backward"; }
  TensorList backward(const Tensor& grad) override {
    Tensor gx = zeros(input_shape, grad.options());
    Tensor window = gx.slice(dim, start, end, step);
    copy_(window, squeezed ? grad.unsqueeze(dim) : grad);
    return {gx};
  }
};

struct ExpandBackward final : Node {
  Shape input_shape;
  explicit ExpandBackward(Shape s) : input_shape(std::move(s)) {}
  const char* name() const override { return "expand_backward"; }
  TensorList backward(const Tensor& grad) override { return {sum_to(grad, input_shape)}; }
};

template <typename NodeT, typename... Args>
static Tensor recorded(Tensor out, const Tensor& x, Args&&... args) {
  if (needs_grad({x})) record(out, std::make_shared<NodeT>(std::forward<Args>(args)...), {x});
  return out;
}

// ---- shape inference ----
static Shape infer_shape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      CXR_CHECK(infer_at < 0, op, ": only one dimension can be -1 in ", shape_str(shape));
      infer_at = static_cast<int64_t>(i);
    } else {
      CXR_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", shape_str(shape));
      known *= out[i];
    }
  }
  if (infer_at >= 0) {
    CXR_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape_str(shape), " is invalid for ", numel,
              " elements");
    out[infer_at] = numel / known;
  }
  CXR_CHECK(shape_numel(out) == numel, op, ": shape ", shape_str(shape), " is invalid for ", numel, " elements");
  return out;
}

// Strides that let `new_shape` view memory laid out as (old_shape, old_strides), or nullopt when
// that needs a copy. Groups of old dims that are contiguous with each other can be re-split freely.
static std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides,
                                           const Shape& new_shape) {
  if (shape_numel(old_shape) == 0 || old_shape.empty()) return contiguous_strides(new_shape);
  Strides out(new_shape.size());
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    bool chunk_ends = d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
      out[view_d] = view_numel * chunk_base_stride;
      view_numel *= new_shape[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return std::nullopt;
    if (d > 0) {
      chunk_base_stride = old_strides[d - 1];
      tensor_numel = 1;
      view_numel = 1;
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// ---- views ----
Tensor Tensor::view(const Shape& shape_in) const {
  Shape s = infer_shape(shape_in, numel(), "view");
  auto st = view_strides(shape(), strides(), s);
  CXR_CHECK(st.has_value(), "view: cannot view a tensor of shape ", shape_str(shape()), " and strides ",
            shape_str(strides()), " as ", shape_str(s), " without a copy; use reshape");
  return recorded<ReshapeBackward>(make_view(*this, s, *st, offset()), *this, shape());
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  Shape s = infer_shape(shape_in, numel(), "reshape");
  if (auto st = view_strides(shape(), strides(), s))
    return recorded<ReshapeBackward>(make_view(*this, s, *st, offset()), *this, shape());
  return contiguous().view(s);
}

Tensor Tensor::permute(const Dims& order) const {
  CXR_CHECK(static_cast<int64_t>(order.size()) == dim(), "permute: order has ", order.size(),
            " dims for a tensor of shape ", shape_str(shape()));
  Dims wrapped = wrap_dims(order, dim(), "permute");  // also rejects duplicates
  (void)wrapped;
  Shape s(dim());
  Strides st(dim());
  Dims inverse(dim());
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t src = wrap_dim(order[i], dim(), "permute");
    s[i] = shape()[src];
    st[i] = strides()[src];
    inverse[src] = i;
  }
  return recorded<PermuteBackward>(make_view(*this, s, st, offset()), *this, inverse);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  Dims order(dim());
  for (int64_t i = 0; i < dim(); ++i) order[i] = i;
  std::swap(order[wrap_dim(d0, dim(), "transpose")], order[wrap_dim(d1, dim(), "transpose")]);
  return permute(order);
}

Tensor Tensor::t() const {
  CXR_CHECK(dim() == 2, "t: expects a 2-D tensor, got shape ", shape_str(shape()));
  return transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  d = wrap_dim(d, dim(), "slice");
  CXR_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  // Python slice semantics: negative bounds count from the end; out-of-range bounds clamp.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape();
  Strides st = strides();
  s[d] = (end - start + step - 1) / step;
  st[d] *= step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[d]);
  return recorded<SliceBackward>(out, *this, shape(), d, start, end, step, false);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  CXR_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ", start + length,
            ") out of bounds for dim ", d, " of size ", n, " in shape ", shape_str(shape()));
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  int64_t n = shape()[d];
  CXR_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dim ", d, " of size ", n,
            " in shape ", shape_str(shape()));
  if (index < 0) index += n;
  Shape s = shape();
  Strides st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, offset() + index * strides()[d]);
  return recorded<SliceBackward>(out, *this, shape(), d, index, index + 1, 1, true);
}

Tensor Tensor::expand(const Shape& target) const {
  CXR_CHECK(target.size() >= shape().size(), "expand: cannot expand shape ", shape_str(shape()), " to ",
            shape_str(target), " (fewer dims)");
  size_t lead = target.size() - shape().size();
  Shape s(target.size());
  Strides st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) {
      CXR_CHECK(target[i] >= 0, "expand: size -1 not allowed in a new leading dim of ", shape_str(target));
      s[i] = target[i];
      continue;
    }
    int64_t have = shape()[i - lead];
    int64_t want = target[i] == -1 ? have : target[i];
    CXR_CHECK(have == want || have == 1, "expand: cannot expand shape ", shape_str(shape()), " to ",
              shape_str(target), " (dim ", i, ": ", have, " vs ", want, ")");
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  if (s == shape()) return *this;
  return recorded<ExpandBackward>(make_view(*this, s, st, offset()), *this, shape());
}

Tensor Tensor::squeeze() const {
  Shape s;
  Strides st;
  for (int64_t i = 0; i < dim(); ++i)
    if (shape()[i] != 1) s.push_back(shape()[i]), st.push_back(strides()[i]);
  return recorded<ReshapeBackward>(make_view(*this, s, st, offset()), *this, shape());
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s = shape();
  Strides st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return recorded<ReshapeBackward>(make_view(*this, s, st, offset()), *this, shape());
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  Strides st = strides();
  int64_t new_stride = d < dim() ? strides()[d] * shape()[d] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, new_stride);
  return recorded<ReshapeBackward>(make_view(*this, s, st, offset()), *this, shape());
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  CXR_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape s(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) merged *= shape()[i];
  s.push_back(merged);
  s.insert(s.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(s);
}

}  // namespace cxr
