// index.cpp — joining (cat, stack), splitting (split, chunk: narrow views) and indexing
// (index_select, gather, embedding) with their named backwards and reference CPU kernels.
//   Index tensors are int64; every index must satisfy 0 <= i < size of the indexed dim.
// The backward of every indexing op is a scatter-add (the adjoint of a gather: each output element
// read one input element, so its gradient is added back there; repeated indices accumulate).
#include <algorithm>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "ops/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

static bool any_needs_grad(const std::vector<Tensor>& tensors) {
  if (!grad_enabled()) return false;
  return std::any_of(tensors.begin(), tensors.end(), [](const Tensor& t) { return t.requires_grad(); });
}

static void check_index_dtype(const Tensor& index, const char* op, const char* what) {
  CXR_CHECK(index.defined(), op, ": ", what, " is undefined");
  CXR_CHECK(index.dtype() == DType::Int64, op, ": ", what, " must be int64, got ", dtype_name(index.dtype()));
}

static void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  CXR_CHECK(a.device() == b.device(), op, ": tensors on different devices (", device_name(a.device()), " vs ",
            device_name(b.device()), ")");
}

// ---- cat ----
// y = [x_0; x_1; ...] along dim     gx_i = gy.narrow(dim, offset_i, size_i)   (views of gy)
struct CatBackward final : Node {
  int64_t dim;
  std::vector<int64_t> sizes;
  CatBackward(int64_t d, std::vector<int64_t> s) : dim(d), sizes(std::move(s)) {}
  const char* name() const override { return "cat_backward"; }
  TensorList backward(const Tensor& g) override {
    TensorList grads;
    int64_t offset = 0;
    for (int64_t s : sizes) {
      grads.push_back(g.narrow(dim, offset, s));
      offset += s;
    }
    return grads;
  }
};

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  const OpScope op_scope("cat");
  CXR_CHECK(!tensors.empty(), "cat: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) CXR_CHECK(tensors[i].defined(), "cat: entry ", i, " is undefined");
  const Tensor& first = tensors[0];
  CXR_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated (entry 0)");
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    CXR_CHECK(t.dtype() == first.dtype(), "cat: dtype mismatch: entry 0 is ", dtype_name(first.dtype()),
              " but entry ", i, " is ", dtype_name(t.dtype()), " (convert with .to())");
    check_same_device(first, t, "cat");
    CXR_CHECK(t.dim() == first.dim(), "cat: tensors must have the same number of dims: entry 0 has shape ",
              shape_str(first.shape()), " but entry ", i, " has shape ", shape_str(t.shape()));
    for (int64_t d = 0; d < t.dim(); ++d)
      CXR_CHECK(d == dim || t.shape()[d] == first.shape()[d], "cat: sizes must match except in dim ", dim,
                ": entry 0 has shape ", shape_str(first.shape()), " but entry ", i, " has shape ",
                shape_str(t.shape()));
    sizes.push_back(t.shape()[dim]);
    shape[dim] += t.shape()[dim];
  }
  Tensor out = empty(shape, first.options());
  int64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    copy_(out.narrow(dim, offset, sizes[i]), tensors[i]);
    offset += sizes[i];
  }
  if (any_needs_grad(tensors)) record(out, std::make_shared<CatBackward>(dim, sizes), tensors);
  return out;
}

// ---- stack ----
// stack = cat of the inputs each unsqueezed at dim; its backward is unsqueeze's and cat's.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  const OpScope op_scope("stack");
  CXR_CHECK(!tensors.empty(), "stack: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    CXR_CHECK(tensors[i].defined(), "stack: entry ", i, " is undefined");
    CXR_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expects tensors of equal shape, got ",
              shape_str(tensors[0].shape()), " at entry 0 and ", shape_str(tensors[i].shape()), " at entry ", i);
  }
  dim = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(dim));
  return cat(parts, dim);
}

// ---- split, chunk ----
// Pieces are narrow views of x (sharing its storage); their backward is slice_backward.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  const OpScope op_scope("split");
  CXR_CHECK(x.dim() > 0, "split: cannot split a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.shape()[dim];
  int64_t total = 0;
  for (int64_t s : sizes) {
    CXR_CHECK(s >= 0, "split: sizes must be non-negative, got ", shape_str(sizes));
    total += s;
  }
  CXR_CHECK(total == n, "split: sizes ", shape_str(sizes), " sum to ", total, " but dim ", dim, " of shape ",
            shape_str(x.shape()), " has size ", n);
  std::vector<Tensor> pieces;
  int64_t offset = 0;
  for (int64_t s : sizes) {
    pieces.push_back(x.narrow(dim, offset, s));
    offset += s;
  }
  return pieces;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  const OpScope op_scope("split");
  CXR_CHECK(x.dim() > 0, "split: cannot split a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.shape()[dim];
  CXR_CHECK(split_size >= 0, "split: split_size must be non-negative, got ", split_size);
  CXR_CHECK(split_size > 0 || n == 0, "split: split_size can only be 0 if the dim has size 0, but dim ", dim,
            " of shape ", shape_str(x.shape()), " has size ", n);
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
  if (sizes.empty()) sizes.push_back(0);  // an empty dim gives one empty piece (as PyTorch)
  return split(x, sizes, dim);
}

// torch.chunk: pieces of ceil(n / chunks) (the last smaller), so there may be fewer than `chunks`
// pieces (6 split into 4 chunks gives 3 pieces of 2); an empty dim gives `chunks` empty pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  const OpScope op_scope("chunk");
  CXR_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  CXR_CHECK(x.dim() > 0, "chunk: cannot chunk a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "chunk");
  const int64_t n = x.shape()[dim];
  if (n == 0) return split(x, std::vector<int64_t>(chunks, 0), dim);
  return split(x, (n + chunks - 1) / chunks, dim);
}

// ---- index_select ----
// y[..., j, ...] = x[..., index[j], ...] along dim
// index_select_backward: gx = zeros(x.shape); gx[..., index[j], ...] += gy[..., j, ...]  (index_add)
// index_add is scatter_add with the index broadcast (stride 0) along every other dim.
struct IndexSelectBackward final : Node {
  Shape input_shape;
  int64_t dim;
  IndexSelectBackward(Shape s, int64_t d) : input_shape(std::move(s)), dim(d) {}
  const char* name() const override { return "index_select_backward"; }
  TensorList backward(const Tensor& g) override { return {index_select_backward(g, input_shape, dim, saved(0))}; }
};

Tensor index_select_backward(const Tensor& grad_out, const Shape& input_shape, int64_t dim, const Tensor& index) {
  const OpScope op_scope("index_select_backward");
  Tensor gx = zeros(input_shape, grad_out.options());
  Shape index_shape(grad_out.dim(), 1);
  index_shape[dim] = index.numel();
  Tensor expanded = index.detach().reshape(index_shape).expand(grad_out.shape());
  scatter_add_kernel(grad_out.device())("index_select_backward", gx, dim, expanded, grad_out);
  return gx;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  const OpScope op_scope("index_select");
  CXR_CHECK(x.dim() > 0, "index_select: expects an input with at least one dim, got shape ", shape_str(x.shape()));
  dim = wrap_dim(dim, x.dim(), "index_select");
  check_index_dtype(index, "index_select", "index");
  CXR_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", shape_str(index.shape()));
  check_same_device(x, index, "index_select");
  Tensor idx = index.dim() == 0 ? index.reshape({1}) : index;
  Shape shape = x.shape();
  shape[dim] = idx.numel();
  Tensor out = empty(shape, x.options());
  index_select_kernel(x.device())("index_select", x, dim, idx, out);
  record_op<IndexSelectBackward>(out, {x}, {idx}, x.shape(), dim);
  return out;
}

// ---- gather ----
// y[i][j][k] = x[i][index[i][j][k]][k]  (dim = 1; likewise for any dim); y has index's shape
// gather_backward: gx = zeros(x.shape); gx[i][index[i][j][k]][k] += gy[i][j][k]   (scatter_add)
struct GatherBackward final : Node {
  Shape input_shape;
  int64_t dim;
  GatherBackward(Shape s, int64_t d) : input_shape(std::move(s)), dim(d) {}
  const char* name() const override { return "gather_backward"; }
  TensorList backward(const Tensor& g) override { return {gather_backward(g, input_shape, dim, saved(0))}; }
};

Tensor gather_backward(const Tensor& grad_out, const Shape& input_shape, int64_t dim, const Tensor& index) {
  const OpScope op_scope("gather_backward");
  Tensor gx = zeros(input_shape, grad_out.options());
  scatter_add_kernel(grad_out.device())("gather_backward", gx, dim, index, grad_out);
  return gx;
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  const OpScope op_scope("gather");
  CXR_CHECK(x.dim() > 0, "gather: expects an input with at least one dim, got shape ", shape_str(x.shape()));
  dim = wrap_dim(dim, x.dim(), "gather");
  check_index_dtype(index, "gather", "index");
  check_same_device(x, index, "gather");
  CXR_CHECK(index.dim() == x.dim(), "gather: index must have as many dims as the input: index ",
            shape_str(index.shape()), " vs input ", shape_str(x.shape()));
  for (int64_t d = 0; d < x.dim(); ++d)
    CXR_CHECK(d == dim || index.shape()[d] <= x.shape()[d], "gather: index shape ", shape_str(index.shape()),
              " is larger than the input shape ", shape_str(x.shape()), " in dim ", d);
  Tensor out = empty(index.shape(), x.options());
  gather_kernel(x.device())("gather", x, dim, index, out);
  record_op<GatherBackward>(out, {x}, {index}, x.shape(), dim);
  return out;
}

// ---- embedding ----
// y[p, :] = weight[indices[p], :] for every position p of indices; y: (*indices.shape, D)
// embedding_backward: gw = zeros(V, D); gw[indices[p], :] += gy[p, :]   (rows repeated accumulate)
struct EmbeddingBackward final : Node {
  int64_t num_embeddings;
  explicit EmbeddingBackward(int64_t v) : num_embeddings(v) {}
  const char* name() const override { return "embedding_backward"; }
  TensorList backward(const Tensor& g) override { return {embedding_backward(g, saved(0), num_embeddings)}; }
};

Tensor embedding_backward(const Tensor& grad_out, const Tensor& indices, int64_t num_embeddings) {
  const OpScope op_scope("embedding_backward");
  const int64_t D = grad_out.size(-1), n = indices.numel();
  Tensor gw = zeros({num_embeddings, D}, grad_out.options());
  Tensor rows = indices.detach().reshape({n, 1}).expand({n, D});
  scatter_add_kernel(grad_out.device())("embedding_backward", gw, 0, rows, grad_out.detach().reshape({n, D}));
  return gw;
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  const OpScope op_scope("embedding");
  CXR_CHECK(weight.dim() == 2, "embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape ",
            shape_str(weight.shape()));
  check_index_dtype(indices, "embedding", "indices");
  check_same_device(weight, indices, "embedding");
  const int64_t D = weight.size(1);
  Tensor flat = indices.reshape({-1});
  Shape shape = indices.shape();
  shape.push_back(D);
  Tensor out = empty(shape, weight.options());
  index_select_kernel(weight.device())("embedding", weight, 0, flat, out.view({flat.numel(), D}));
  record_op<EmbeddingBackward>(out, {weight}, {indices}, weight.size(0));
  return out;
}

// ======================= reference CPU kernels =======================
// The trick of all three: give x (or dst) a copy of its strides with the indexed dim's stride set
// to 0, walk the output (or index) shape with for_each_offset, and add index * stride[dim] to the
// offset by hand. Indices are checked as they are read.

static void check_index(int64_t value, int64_t size, int64_t dim, const char* op) {
  CXR_CHECK(value >= 0 && value < size, op, ": index ", value, " is out of range for dim ", dim, " of size ", size);
}

static void index_select_cpu(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  CXR_CHECK(index.dim() == 1, op, ": index must be 1-D, got shape ", shape_str(index.shape()));
  const int64_t size = x.shape()[dim], step = x.strides()[dim];
  const int64_t* pi = index.data<int64_t>();
  for (int64_t j = 0; j < index.numel(); ++j) check_index(pi[j * index.strides()[0]], size, dim, op);
  Strides xs = x.strides();
  xs[dim] = 0;
  Strides js(x.dim(), 0);  // position j along dim -> index element j
  js[dim] = index.strides()[0];
  visit_dtype(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_offset<3>(out.shape(), {out.strides(), xs, js},
                       [&](const Offsets<3>& o) { po[o[0]] = px[o[1] + pi[o[2]] * step]; });
  });
}

static void gather_cpu(const char* op, const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const int64_t size = x.shape()[dim], step = x.strides()[dim];
  const int64_t* pi = index.data<int64_t>();
  Strides xs = x.strides();
  xs[dim] = 0;
  visit_dtype(x.dtype(), [&]<typename T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_offset<3>(index.shape(), {out.strides(), xs, index.strides()}, [&](const Offsets<3>& o) {
      const int64_t i = pi[o[2]];
      check_index(i, size, dim, op);
      po[o[0]] = px[o[1] + i * step];
    });
  });
}

// Accumulates in dst's dtype, in row-major order of src (deterministic).
static void scatter_add_cpu(const char* op, const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  CXR_CHECK(index.shape() == src.shape(), op, ": index shape ", shape_str(index.shape()), " differs from source shape ",
            shape_str(src.shape()));
  const int64_t size = dst.shape()[dim], step = dst.strides()[dim];
  const int64_t* pi = index.data<int64_t>();
  Strides ds = dst.strides();
  ds[dim] = 0;
  visit_numeric(dst.dtype(), op, [&]<typename T>() {
    T* pd = dst.data<T>();
    const T* ps = src.data<T>();
    for_each_offset<3>(src.shape(), {ds, index.strides(), src.strides()}, [&](const Offsets<3>& o) {
      const int64_t i = pi[o[1]];
      check_index(i, size, dim, op);
      pd[o[0] + i * step] += ps[o[2]];
    });
  });
}

KernelTable<IndexSelectFn> index_select_kernel{"index_select", {
    .cpu_reference = index_select_cpu,
    .cuda = CXR_CUDA_KERNEL(index_select),
}};
KernelTable<GatherFn> gather_kernel{"gather", {.cpu_reference = gather_cpu, .cuda = CXR_CUDA_KERNEL(gather)}};
KernelTable<ScatterAddFn> scatter_add_kernel{"scatter_add", {
    .cpu_reference = scatter_add_cpu,
    .cuda = CXR_CUDA_KERNEL(scatter_add),
}};

}  // namespace cxr
