// dispatch.h — how an op finds its kernel. Each kernel is a KernelTable: one function pointer per
// device, and on the CPU two: the readable reference kernel and (optionally) a fast one from
// tensor/cpu/. Both are named where the table is defined (next to the op, in
// ops/<family>.cpp); another backend fills its column with register_kernel() at start-up,
// so op call sites never change:
//
//   // ops/elementwise.h                              // ops/elementwise.cpp
//   extern KernelTable<UnaryFn> unary_kernel;         KernelTable<UnaryFn> unary_kernel{"unary", unary_cpu,
//                                                                                       cpu::unary_fast};
//   unary_kernel(x.device())(UnaryOp::Exp, x, out);   // at the call site
//
// Which CPU kernel runs is a process-wide switch: CXR_KERNELS=reference|fast in the environment
// (read once, at the first dispatch; default fast) or set_cpu_kernels() at run time. A table with
// no fast kernel always runs its reference kernel. Fast kernels are tested against the reference
// ones (tests/test_cpu_*.cpp), which stay the audit trail and the fallback.
#pragma once

#include <array>

#include "tensor/dtype.h"

namespace cxr {

enum class CpuKernels : uint8_t { Reference, Fast };
CpuKernels cpu_kernels();  // the current choice
void set_cpu_kernels(CpuKernels kernels);
const char* cpu_kernels_name(CpuKernels kernels);  // "reference" / "fast"

template <typename Fn>
class KernelTable {
 public:
  constexpr KernelTable(const char* name, Fn* cpu_reference, Fn* cpu_fast = nullptr)
      : name_(name), cpu_fast_(cpu_fast) {
    kernels_[static_cast<int>(Device::CPU)] = cpu_reference;
  }
  void register_kernel(Device device, Fn* kernel) { kernels_[static_cast<int>(device)] = kernel; }
  // The kernel an op runs on `device` (on the CPU: the fast one when selected and present).
  Fn* get(Device device) const {
    if (device == Device::CPU && cpu_fast_ != nullptr && cpu_kernels() == CpuKernels::Fast) return cpu_fast_;
    return kernels_[static_cast<int>(device)];
  }
  Fn* operator()(Device device) const {
    Fn* k = get(device);
    CXR_CHECK(k != nullptr, name_, ": no kernel registered for device ", device_name(device));
    return k;
  }
  // Both CPU kernels, whatever the switch says (tests compare them; a fast kernel falls back to
  // the reference for the cases it does not cover).
  Fn* cpu_reference() const { return kernels_[static_cast<int>(Device::CPU)]; }
  Fn* cpu_fast() const { return cpu_fast_; }
  const char* name() const { return name_; }

 private:
  const char* name_;
  std::array<Fn*, kNumDevices> kernels_{};
  Fn* cpu_fast_ = nullptr;
};

}  // namespace cxr
