// tensor.cpp — storage, metadata, creation and element access of Tensor. The layer below autograd
// and the ops: it reaches memory only through the allocator registry and the fill/copy kernel
// tables (tensor/kernels/copy.h). Tensor's differentiable members are defined above it: views in
// ops/view.cpp, copies in ops/copy.cpp, printing in ops/print.cpp, requires_grad_ and backward in
// autograd/engine.cpp (docs/ARCHITECTURE.md).
#include "tensor/tensor.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <sstream>

#include "tensor/allocator.h"
#include "tensor/kernels/copy.h"
#include "tensor/random.h"
#include "tensor/strided_loop.h"

namespace cxr {

// ---- storage ----
namespace {
// 64-byte alignment (one cache line, what AVX-512 loads like), through the caching allocator of
// tensor/allocator.h: a steady-state training step reuses its blocks instead of faulting in
// fresh pages.
void* cpu_allocate(size_t nbytes) { return cpu::cached_allocate(nbytes); }
void cpu_deallocate(void* p) { cpu::cached_free(p); }

std::array<Allocator, kNumDevices>& allocators() {
  static std::array<Allocator, kNumDevices> table = {Allocator{cpu_allocate, cpu_deallocate}, Allocator{}};
  return table;
}
}  // namespace

void register_allocator(Device device, Allocator allocator) {
  allocators()[static_cast<int>(device)] = allocator;
}

Storage::Storage(size_t n, Device dev) : nbytes(n), device(dev) {
  const Allocator& a = allocators()[static_cast<int>(dev)];
  CXR_CHECK(a.allocate != nullptr, "Storage: no allocator registered for device ", device_name(dev));
  data = a.allocate(n);
}

Storage::~Storage() {
  if (data) allocators()[static_cast<int>(device)].deallocate(data);
}

// ---- metadata ----
const TensorImpl& Tensor::checked() const {
  CXR_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor");
  return *impl_;
}
const Shape& Tensor::shape() const { return checked().shape; }
const Strides& Tensor::strides() const { return checked().strides; }
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }
int64_t Tensor::offset() const { return checked().offset; }
DType Tensor::dtype() const { return checked().dtype; }
Device Tensor::device() const { return checked().device; }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = checked();
  int64_t expected = 1;
  for (size_t i = t.shape.size(); i-- > 0;) {
    if (t.shape[i] == 1) continue;  // the stride of a size-1 dim never matters
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

void* Tensor::data_ptr() const {
  const TensorImpl& t = checked();
  return static_cast<char*>(t.storage->data) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

// ---- autograd accessors ----
bool Tensor::requires_grad() const { return checked().requires_grad; }
bool Tensor::is_leaf() const { return checked().grad_fn == nullptr; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked().grad_fn; }
Tensor Tensor::grad() const { return Tensor(checked().grad); }
void Tensor::zero_grad() { impl_->grad.reset(); }
void Tensor::set_grad(const Tensor& g) {
  CXR_CHECK(!g.defined() || (g.shape() == shape() && g.dtype() == dtype()), "set_grad: gradient ",
            shape_str(g.shape()), " does not match the tensor's shape ", shape_str(shape()), " and dtype");
  impl_->grad = g.impl_ptr();
}


Tensor Tensor::detach() const {
  const TensorImpl& t = checked();
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage;
  impl->shape = t.shape;
  impl->strides = t.strides;
  impl->offset = t.offset;
  impl->dtype = t.dtype;
  impl->device = t.device;
  return Tensor(impl);
}

// ---- creation ----
Tensor empty(const Shape& shape, TensorOptions options) {
  for (int64_t s : shape) CXR_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  int64_t n = shape_numel(shape);
  CXR_CHECK(n <= (int64_t(1) << 40), "empty: shape ", shape_str(shape), " is absurdly large");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(n) * dtype_size(options.dtype), options.device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = options.dtype;
  impl->device = options.device;
  Tensor t(impl);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, TensorOptions options) {
  bool rg = options.requires_grad;
  options.requires_grad = false;
  Tensor t = empty(shape, options);
  fill_kernel(t.device())(t, value);
  if (rg) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, TensorOptions options) { return full(shape, 0.0, options); }
Tensor ones(const Shape& shape, TensorOptions options) { return full(shape, 1.0, options); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.options()); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.options()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.options()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.options()); }
Tensor scalar_tensor(double value, TensorOptions options) { return full({}, value, options); }

// ---- moving values between devices (not recorded by autograd) ----
Tensor copy_to(const Tensor& t, Device device) {
  if (t.device() == device) return t;
  Tensor out = empty(t.shape(), {t.dtype(), device, false});
  // The non-CPU side's backend does host<->device transfers (tensor/kernels/copy.h).
  copy_kernel(device == Device::CPU ? t.device() : device)(out, t);
  return out;
}

Tensor contiguous_values(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor out = empty(t.shape(), {t.dtype(), t.device(), false});
  copy_kernel(t.device())(out, t);
  return out;
}

// Fills a new contiguous tensor element by element with value_of(i) on the host, moves it to the
// requested device (so every device gets the same numbers), then applies requires_grad.
template <typename ValueOf>
static Tensor generate(const Shape& shape, TensorOptions options, ValueOf value_of) {
  Tensor t = empty(shape, {options.dtype, Device::CPU, false});
  int64_t n = t.numel();
  visit_dtype(t.dtype(), [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(value_of(i));
  });
  t = copy_to(t, options.device);
  if (options.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor arange(double start, double end, double step, TensorOptions options) {
  CXR_CHECK(step != 0, "arange: step must be non-zero");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  return generate({n}, options, [&](int64_t i) { return start + double(i) * step; });
}

Tensor eye(int64_t n, TensorOptions options) {
  CXR_CHECK(n >= 0, "eye: negative size ", n);
  return generate({n, n}, options, [&](int64_t i) { return i / n == i % n ? 1.0 : 0.0; });
}

Tensor from_vector(const std::vector<double>& values, const Shape& shape_in, TensorOptions options) {
  Shape shape = shape_in.empty() ? Shape{static_cast<int64_t>(values.size())} : shape_in;
  CXR_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()), "from_vector: ", values.size(),
            " values do not fill shape ", shape_str(shape));
  return generate(shape, options, [&](int64_t i) { return values[i]; });
}

Tensor tensor(std::initializer_list<double> values, TensorOptions options) {
  return from_vector(std::vector<double>(values), {}, options);
}

Tensor rand(const Shape& shape, TensorOptions options, Generator* gen) {
  CXR_CHECK(is_floating(options.dtype), "rand: needs a floating dtype, got ", dtype_name(options.dtype));
  Generator& g = gen ? *gen : default_generator();
  uint64_t first = g.reserve(shape_numel(shape));
  return generate(shape, options, [&](int64_t i) { return g.uniform(first + i); });
}

Tensor randn(const Shape& shape, TensorOptions options, Generator* gen) {
  CXR_CHECK(is_floating(options.dtype), "randn: needs a floating dtype, got ", dtype_name(options.dtype));
  Generator& g = gen ? *gen : default_generator();
  uint64_t first = g.reserve(shape_numel(shape));
  return generate(shape, options, [&](int64_t i) { return g.normal(first + i); });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions options, Generator* gen) {
  CXR_CHECK(low < high, "randint: empty range [", low, ", ", high, ")");
  Generator& g = gen ? *gen : default_generator();
  uint64_t first = g.reserve(shape_numel(shape));
  return generate(shape, options, [&](int64_t i) { return double(g.integer(first + i, low, high)); });
}

// ---- element access (a tensor on another device is read through a host copy) ----
static int64_t element_offset(const Tensor& t, const std::vector<int64_t>& index, const char* op) {
  CXR_CHECK(static_cast<int64_t>(index.size()) == t.dim(), op, ": index has ", index.size(),
            " entries for a tensor of shape ", shape_str(t.shape()));
  int64_t off = 0;
  for (size_t d = 0; d < index.size(); ++d) {
    CXR_CHECK(index[d] >= 0 && index[d] < t.shape()[d], op, ": index ", index[d], " out of range for dim ", d,
              " of size ", t.shape()[d]);
    off += index[d] * t.strides()[d];
  }
  return off;
}

// The one element of t at storage offset t.offset() + off, as a 0-dim tensor sharing t's storage.
static Tensor element_view(const Tensor& t, int64_t off) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl()->storage;
  impl->offset = t.offset() + off;
  impl->dtype = t.dtype();
  impl->device = t.device();
  return Tensor(impl);
}

double Tensor::at(const std::vector<int64_t>& index) const {
  const Tensor e = copy_to(element_view(*this, element_offset(*this, index, "at")), Device::CPU);
  return visit_dtype(dtype(), [&]<typename T>() { return static_cast<double>(*e.data<T>()); });
}

void Tensor::set(const std::vector<int64_t>& index, double value) {
  const Tensor e = element_view(*this, element_offset(*this, index, "set"));
  if (device() == Device::CPU) {
    visit_dtype(dtype(), [&]<typename T>() { *e.data<T>() = static_cast<T>(value); });
  } else {
    fill_kernel(device())(e, value);
  }
}

double Tensor::item() const {
  CXR_CHECK(numel() == 1, "item: needs a one-element tensor, got shape ", shape_str(shape()));
  return at(std::vector<int64_t>(dim(), 0));
}

std::vector<double> Tensor::to_vector() const {
  const Tensor host = copy_to(*this, Device::CPU);
  std::vector<double> out;
  out.reserve(numel());
  visit_dtype(dtype(), [&]<typename T>() {
    const T* p = host.data<T>();
    for_each_offset<1>(shape(), {host.strides()}, [&](const Offsets<1>& o) { out.push_back(double(p[o[0]])); });
  });
  return out;
}

// ---- comparison helpers (tests) ----
double max_abs_diff(const Tensor& a, const Tensor& b) {
  CXR_CHECK(a.shape() == b.shape(), "max_abs_diff: shapes differ: ", shape_str(a.shape()), " vs ",
            shape_str(b.shape()));
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) && std::isnan(vb[i])) continue;
    double d = std::fabs(va[i] - vb[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  if (a.shape() != b.shape()) return false;
  std::vector<double> va = a.to_vector(), vb = b.to_vector();
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) && std::isnan(vb[i])) continue;
    if (va[i] == vb[i]) continue;  // equal infinities
    if (!(std::fabs(va[i] - vb[i]) <= atol + rtol * std::fabs(vb[i]))) return false;
  }
  return true;
}

}  // namespace cxr
