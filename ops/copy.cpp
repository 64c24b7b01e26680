// copy.cpp — fill_ and copy_ (with dtype conversion, and between devices), and the differentiable
// copies built on them: Tensor::contiguous, clone, to(dtype), to(device).
//   clone:      y = x       dy/dx = I              clone_backward:     gx = gy
//   to(dtype):  y = T(x)    (floating->floating)   to_dtype_backward:  gx = gy converted back to x's dtype
//   to(device): y = x       on another device      to_device_backward: gx = gy moved back to x's device
#include <cmath>
#include <limits>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

// Value conversion between storage types without undefined behaviour: NaN -> 0 and out-of-range
// values saturate when converting floating to int64; anything non-zero is true for bool.
template <typename To, typename From>
static To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, int64_t> && std::is_floating_point_v<From>) {
    if (std::isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
    if (v <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(v);
  } else {
    return static_cast<To>(v);
  }
}

// ---- reference CPU kernels ----
static void fill_cpu(const Tensor& dst, double value) {
  visit_dtype(dst.dtype(), [&]<typename T>() {
    T* p = dst.data<T>();
    T v = convert<T>(value);
    for_each_offset<1>(dst.shape(), {dst.strides()}, [&](const Offsets<1>& o) { p[o[0]] = v; });
  });
}

static void copy_cpu(const Tensor& dst, const Tensor& src) {
  visit_dtype(dst.dtype(), [&]<typename D>() {
    visit_dtype(src.dtype(), [&]<typename S>() {
      D* pd = dst.data<D>();
      const S* ps = src.data<S>();
      for_each_offset<2>(dst.shape(), {dst.strides(), src.strides()},
                         [&](const Offsets<2>& o) { pd[o[0]] = convert<D>(ps[o[1]]); });
    });
  });
}

KernelTable<FillFn> fill_kernel{"fill", {
    .cpu_reference = fill_cpu,
    .cpu_fast = cpu::fill_fast,
    .cuda = CXR_CUDA_KERNEL(fill),
}};
KernelTable<CopyFn> copy_kernel{"copy", {
    .cpu_reference = copy_cpu,
    .cpu_fast = cpu::copy_fast,
    .cuda = CXR_CUDA_KERNEL(copy),
}};

void fill_(const Tensor& dst, double value) { fill_kernel(dst.device())(dst, value); }

void copy_(const Tensor& dst, const Tensor& src) {
  CXR_CHECK(dst.shape() == src.shape(), "copy_: shape mismatch: destination ", shape_str(dst.shape()),
            " vs source ", shape_str(src.shape()));
  // Between devices, the non-CPU side's backend does the transfer.
  copy_kernel(dst.device() == Device::CPU ? src.device() : dst.device())(dst, src);
}

// ---- differentiable copies ----
struct CloneBackward final : Node {
  const char* name() const override { return "clone_backward"; }
  TensorList backward(const Tensor& grad) override { return {grad}; }
};

struct ToDtypeBackward final : Node {
  DType input_dtype;
  explicit ToDtypeBackward(DType t) : input_dtype(t) {}
  const char* name() const override { return "to_dtype_backward"; }
  TensorList backward(const Tensor& grad) override { return {grad.to(input_dtype)}; }
};

struct ToDeviceBackward final : Node {
  Device input_device;
  explicit ToDeviceBackward(Device d) : input_device(d) {}
  const char* name() const override { return "to_device_backward"; }
  TensorList backward(const Tensor& grad) override { return {grad.to(input_device)}; }
};

Tensor Tensor::clone() const {
  const OpScope op_scope("clone");
  Tensor out = empty(shape(), options());
  copy_(out, *this);
  if (needs_grad({*this})) record(out, std::make_shared<CloneBackward>(), {*this});
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType target) const {
  const OpScope op_scope("to");
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), {target, device(), false});
  copy_(out, *this);
  if (is_floating(target) && needs_grad({*this}))
    record(out, std::make_shared<ToDtypeBackward>(dtype()), {*this});
  return out;
}

Tensor Tensor::to(Device target) const {
  const OpScope op_scope("to");
  if (target == device()) return *this;
  Tensor out = copy_to(*this, target);
  if (is_floating(dtype()) && needs_grad({*this}))
    record(out, std::make_shared<ToDeviceBackward>(device()), {*this});
  return out;
}

}  // namespace cxr
