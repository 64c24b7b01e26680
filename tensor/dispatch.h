// dispatch.h — how an op finds its kernel. Each kernel is a KernelTable: one function pointer per
// device. The CPU reference kernel is filled in where the table is defined (next to the op, in
// tensor/ops/<family>.cpp); another backend fills its column with register_kernel() at start-up,
// so op call sites never change:
//
//   // ops/elementwise.h                              // ops/elementwise.cpp
//   extern KernelTable<UnaryFn> unary_kernel;         KernelTable<UnaryFn> unary_kernel{"unary", unary_cpu};
//
//   unary_kernel(x.device())(UnaryOp::Exp, x, out);   // at the call site
#pragma once

#include <array>

#include "tensor/dtype.h"

namespace cxr {

template <typename Fn>
class KernelTable {
 public:
  constexpr KernelTable(const char* name, Fn* cpu_kernel) : name_(name) {
    kernels_[static_cast<int>(Device::CPU)] = cpu_kernel;
  }
  void register_kernel(Device device, Fn* kernel) { kernels_[static_cast<int>(device)] = kernel; }
  Fn* get(Device device) const { return kernels_[static_cast<int>(device)]; }
  Fn* operator()(Device device) const {
    Fn* k = kernels_[static_cast<int>(device)];
    CXR_CHECK(k != nullptr, name_, ": no kernel registered for device ", device_name(device));
    return k;
  }
  const char* name() const { return name_; }

 private:
  const char* name_;
  std::array<Fn*, kNumDevices> kernels_{};
};

}  // namespace cxr
