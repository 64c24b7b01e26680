// dispatch.h — how an op finds its kernel. Each kernel is a KernelTable: the kernels of one op,
// per device and version, all named where the table is defined (next to the op and its reference
// kernel, in ops/<family>.cpp), so a reader finds every implementation of an op in one line:
//
//   // tensor/kernels/elementwise.h                  // ops/elementwise.cpp
//   extern KernelTable<UnaryFn> unary_kernel;         KernelTable<UnaryFn> unary_kernel{"unary", {
//                                                       .cpu_reference = unary_cpu,
//                                                       .cpu_fast = cpu::unary_fast,
//                                                       .cuda = CXR_CUDA_KERNEL(unary)}};
//   unary_kernel(x.device())(UnaryOp::Exp, x, out);   // at the call site
//
// Two process-wide switches choose among a device's versions, read from the environment at the
// first dispatch and settable at run time:
//   CPU:  CXR_KERNELS=reference|fast (default fast), set_cpu_kernels(). The reference kernels are
//         the readable audit trail; the fast ones (tensor/cpu/) are tested against them.
//   CUDA: CXR_CUDA_KERNELS=hand|library (default hand), set_cuda_kernels(). The hand-written
//         kernels (cuda/) against the cuBLAS/cuDNN ones, for comparison and as a fallback.
// A table without the selected fast/library kernel runs the reference/hand one. A table with no
// kernel at all for a device throws, naming the op and the device.
#pragma once

#include <array>

#include "tensor/dtype.h"

namespace cxr {

enum class CpuKernels : uint8_t { Reference, Fast };
CpuKernels cpu_kernels();  // the current choice
void set_cpu_kernels(CpuKernels kernels);
const char* cpu_kernels_name(CpuKernels kernels);  // "reference" / "fast"

enum class CudaKernels : uint8_t { Hand, Library };
CudaKernels cuda_kernels();
void set_cuda_kernels(CudaKernels kernels);
const char* cuda_kernels_name(CudaKernels kernels);  // "hand" / "library"

// Every kernel of one op. The CUDA members are filled by CXR_CUDA_KERNEL(name) (cuda/kernels.h),
// which is nullptr in a build without the CUDA backend.
template <typename Fn>
struct Kernels {
  Fn* cpu_reference = nullptr;
  Fn* cpu_fast = nullptr;
  Fn* cuda = nullptr;          // hand-written
  Fn* cuda_library = nullptr;  // cuBLAS / cuDNN
};

template <typename Fn>
class KernelTable {
 public:
  constexpr KernelTable(const char* name, Kernels<Fn> kernels) : name_(name), kernels_(kernels) {}
  // The kernel an op runs on `device`, by the switches above; nullptr when there is none.
  Fn* get(Device device) const {
    if (device == Device::CPU) {
      return kernels_.cpu_fast != nullptr && cpu_kernels() == CpuKernels::Fast ? kernels_.cpu_fast
                                                                                  : kernels_.cpu_reference;
    }
    return kernels_.cuda_library != nullptr && cuda_kernels() == CudaKernels::Library ? kernels_.cuda_library
                                                                                       : kernels_.cuda;
  }
  Fn* operator()(Device device) const {
    Fn* k = get(device);
    CXR_CHECK(k != nullptr, name_, ": no kernel for device ", device_name(device),
              device == Device::CUDA ? " (this build has no CUDA backend: configure with -DCXR_CUDA=ON)" : "");
    return k;
  }
  // Each version, whatever the switches say (tests compare them; a fast or library kernel falls
  // back to the reference or hand one for the cases it does not cover).
  Fn* cpu_reference() const { return kernels_.cpu_reference; }
  Fn* cpu_fast() const { return kernels_.cpu_fast; }
  Fn* cuda() const { return kernels_.cuda; }
  Fn* cuda_library() const { return kernels_.cuda_library; }
  const char* name() const { return name_; }

 private:
  const char* name_;
  Kernels<Fn> kernels_;
};

}  // namespace cxr
