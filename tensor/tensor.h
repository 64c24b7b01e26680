// tensor.h — Tensor: a handle to (storage, shape, strides, offset, dtype, device) plus autograd
// metadata. Copying a Tensor aliases it (like a PyTorch tensor in Python); views share storage.
// Strides and offset are in elements. A default-constructed Tensor is "undefined" (no data).
// The differentiable members (views, copies, requires_grad_, backward) are declared here for the
// x.view(...) call syntax and defined by the layers above: ops/ and autograd/.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/shape.h"

namespace cxr {

class Node;
class Generator;

// A reference-counted block of device memory. Views hold a shared_ptr to it.
struct Storage {
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  Device device = Device::CPU;
};

// Allocation is per device, like every kernel: a backend registers its allocator here.
struct Allocator {
  void* (*allocate)(size_t nbytes) = nullptr;
  void (*deallocate)(void* ptr) = nullptr;
};
void register_allocator(Device device, Allocator allocator);

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  DType dtype = DType::Float32;
  Device device = Device::CPU;
  // autograd (see autograd/README in docs/AUTOGRAD.md)
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;         // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;            // the node that produced this tensor (non-leaf)
  std::weak_ptr<Node> grad_accumulator;     // cached AccumulateGrad node of a leaf
};

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::CPU;
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // ---- metadata ----
  const Shape& shape() const;
  const Strides& strides() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t offset() const;
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;
  TensorOptions options() const { return {dtype(), device(), false}; }

  // Pointer to element 0 of this view (storage base + offset). T must match the dtype.
  void* data_ptr() const;
  template <typename T>
  T* data() const {
    CXR_CHECK(dtype_of<T>() == dtype(), "Tensor::data: requested ", dtype_name(dtype_of<T>()),
              " from a ", dtype_name(dtype()), " tensor");
    return static_cast<T*>(data_ptr());
  }

  // ---- autograd ----
  bool requires_grad() const;
  // Marks a leaf as requiring grad (throws on a non-leaf: only leaves accumulate).
  Tensor& requires_grad_(bool value = true);
  bool is_leaf() const;
  Tensor grad() const;
  void zero_grad();  // drops the accumulated gradient (set to undefined, like set_to_none)
  void set_grad(const Tensor& grad);  // replaces the gradient (e.g. after clipping); shape must match
  const std::shared_ptr<Node>& grad_fn() const;
  // Reverse-mode backward from this tensor. With no `gradient`, the tensor must be a scalar
  // (one element) and the upstream gradient is 1.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // A new tensor sharing storage, outside any graph.
  Tensor detach() const;

  // ---- views (no copy; share storage; differentiable) ----
  Tensor view(const Shape& shape) const;     // requires compatible strides; -1 infers one size
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a contiguous copy
  Tensor permute(const Dims& order) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // broadcast; -1 keeps a size
  Tensor squeeze() const;                   // all size-1 dims
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;

  // ---- copies ----
  Tensor contiguous() const;  // self if already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;  // self if already that dtype
  Tensor to(Device device) const;  // self if already there; differentiable (the gradient moves back)

  // ---- element access (for tests, printing and small glue code; a tensor on another device is
  // read through a host copy, so this is slow there) ----
  double item() const;  // the value of a one-element tensor, as double
  template <typename T>
  T item() const { return static_cast<T>(item()); }
  double at(const std::vector<int64_t>& index) const;
  void set(const std::vector<int64_t>& index, double value);  // writes through views
  std::vector<double> to_vector() const;                       // row-major values as double
  std::string to_string() const;

 private:
  const TensorImpl& checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- creation ----
// A new tensor with fresh contiguous storage; empty() leaves values uninitialized.
Tensor empty(const Shape& shape, TensorOptions options = {});
Tensor zeros(const Shape& shape, TensorOptions options = {});
Tensor ones(const Shape& shape, TensorOptions options = {});
Tensor full(const Shape& shape, double value, TensorOptions options = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor scalar_tensor(double value, TensorOptions options = {});  // a 0-dim tensor
Tensor arange(double start, double end, double step = 1, TensorOptions options = {});
inline Tensor arange(double end, TensorOptions options = {}) { return arange(0, end, 1, options); }
Tensor eye(int64_t n, TensorOptions options = {});
// From row-major values; the shape defaults to 1-D of the values' length.
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {}, TensorOptions options = {});
Tensor tensor(std::initializer_list<double> values, TensorOptions options = {});
// Random: counter-based (Philox), so a seed gives the same numbers whatever the thread count.
// Without a generator the global default generator is used (see random.h, manual_seed).
Tensor rand(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);   // U[0,1)
Tensor randn(const Shape& shape, TensorOptions options = {}, Generator* gen = nullptr);  // N(0,1)
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options = {.dtype = DType::Int64},
               Generator* gen = nullptr);  // uniform integers in [low, high)

// ---- moving values (not recorded by autograd; for kernels, I/O and element access) ----
// t's values on `device`: t itself when it is already there, else a fresh contiguous copy.
Tensor copy_to(const Tensor& t, Device device);
// t itself when contiguous, else a fresh contiguous copy on the same device.
Tensor contiguous_values(const Tensor& t);

// True if the shapes are equal and |a-b| <= atol + rtol*|b| elementwise (NaNs equal when both NaN).
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
double max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace cxr
