// common.cuh — what every .cu file of the backend starts from: the CUDA runtime (or, in the
// emulated build, cuda/emulator.h), the error check, the backend's stream, the launch helper, and
// pointers to a tensor's elements. Included only by cuda/*.cu.
//
//   CXR_CUDA_CHECK(cudaMemcpyAsync(...));       // throws naming the file, line, call and op
//   launch("unary", unary_contiguous<float>, blocks_for(n), kBlock, n, x, out);
#pragma once

#if defined(CXR_CUDA_EMULATION)
#include "cuda/emulator.h"
#else
#include <cuda_runtime.h>
#endif

#include <cstdint>

#include "cuda/runtime.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

namespace cxr::cuda {

// Throws cxr::Error: "<file>:<line>: <call> failed: <cudaGetErrorName>: <message> (in op <op>)".
[[noreturn]] void throw_cuda_error(const char* call, cudaError_t error, const char* file, int line);

#define CXR_CUDA_CHECK(call)                                                         \
  do {                                                                               \
    const cudaError_t cxr_cuda_status_ = (call);                                     \
    if (cxr_cuda_status_ != cudaSuccess)                                             \
      ::cxr::cuda::throw_cuda_error(#call, cxr_cuda_status_, __FILE__, __LINE__);    \
  } while (0)

// The stream every kernel and copy of the backend is queued on (initializes the runtime).
cudaStream_t stream();

inline constexpr int kBlock = 256;  // threads per block of the elementwise and row kernels
// Blocks for a grid-stride loop over n elements: enough to fill the device, capped so that the
// grid size (and hence the order of anything a kernel reduces) never depends on n beyond it.
inline unsigned blocks_for(int64_t n, int block = kBlock) {
  const int64_t b = (n + block - 1) / block;
  return unsigned(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}

// Launches kernel<<<grid, block, 0, stream()>>>(args...) and checks the launch. `name` is the
// kernel as the errors name it.
template <typename... KernelArgs, typename... Args>
void launch(const char* name, void (*kernel)(KernelArgs...), dim3 grid, dim3 block, Args&&... args) {
#if defined(CXR_CUDA_EMULATION)
  emu::launch(grid, block, name, [&] { kernel(static_cast<KernelArgs>(args)...); });
#else
  (void)name;
  kernel<<<grid, block, 0, stream()>>>(static_cast<KernelArgs>(args)...);
  CXR_CUDA_CHECK(cudaGetLastError());
#endif
}

// A CUDA tensor's first element, as T (checks the device and the dtype).
template <typename T>
T* device_data(const Tensor& t) {
  CXR_CHECK(t.device() == Device::CUDA, "cuda: expected a CUDA tensor, got a ", device_name(t.device()), " one");
  return t.data<T>();
}

// Numeric limits usable in device code (std::numeric_limits is host-only under nvcc).
template <typename T>
struct Limits;
template <>
struct Limits<float> {
  static __host__ __device__ constexpr float infinity() { return __builtin_huge_valf(); }
  static __host__ __device__ constexpr float quiet_nan() { return __builtin_nanf(""); }
};
template <>
struct Limits<double> {
  static __host__ __device__ constexpr double infinity() { return __builtin_huge_val(); }
  static __host__ __device__ constexpr double quiet_nan() { return __builtin_nan(""); }
};
template <>
struct Limits<int64_t> {
  static __host__ __device__ constexpr int64_t max() { return INT64_MAX; }
  static __host__ __device__ constexpr int64_t lowest() { return INT64_MIN; }
};

// The accumulator of a reduction over T (as on the CPU: float32 sums accumulate in double).
template <typename T>
struct Accumulator {
  using type = T;
};
template <>
struct Accumulator<float> {
  using type = double;
};
template <typename T>
using acc_t = typename Accumulator<T>::type;

}  // namespace cxr::cuda
