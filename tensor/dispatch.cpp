// dispatch.cpp — the two kernel switches of dispatch.h: CXR_KERNELS (CPU reference/fast) and
// CXR_CUDA_KERNELS (CUDA hand/library), each read from the environment once, then settable.
#include "tensor/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace cxr {

namespace {
// The value of environment variable `name`: 0 when unset or equal to `first`, 1 when `second`.
uint8_t switch_from_env(const char* name, const char* first, const char* second) {
  const char* env = std::getenv(name);
  if (env == nullptr || *env == '\0' || std::strcmp(env, first) == 0) return 0;
  if (std::strcmp(env, second) == 0) return 1;
  fail(name, ": expected '", first, "' or '", second, "', got '", env, "'");
}

std::atomic<CpuKernels>& cpu_setting() {
  static std::atomic<CpuKernels> setting{switch_from_env("CXR_KERNELS", "fast", "reference") ? CpuKernels::Reference
                                                                                             : CpuKernels::Fast};
  return setting;
}

std::atomic<CudaKernels>& cuda_setting() {
  static std::atomic<CudaKernels> setting{
      switch_from_env("CXR_CUDA_KERNELS", "hand", "library") ? CudaKernels::Library : CudaKernels::Hand};
  return setting;
}
}  // namespace

CpuKernels cpu_kernels() { return cpu_setting().load(std::memory_order_relaxed); }
void set_cpu_kernels(CpuKernels k) { cpu_setting().store(k, std::memory_order_relaxed); }
const char* cpu_kernels_name(CpuKernels k) { return k == CpuKernels::Fast ? "fast" : "reference"; }

CudaKernels cuda_kernels() { return cuda_setting().load(std::memory_order_relaxed); }
void set_cuda_kernels(CudaKernels k) { cuda_setting().store(k, std::memory_order_relaxed); }
const char* cuda_kernels_name(CudaKernels k) { return k == CudaKernels::Library ? "library" : "hand"; }

}  // namespace cxr
