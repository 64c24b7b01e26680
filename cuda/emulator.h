// emulator.h — the CUDA programming model on the CPU, so that the hand-written kernels of cuda/
// run (slowly) on a machine without a GPU: the build with -DCXR_CUDA_EMULATION=ON compiles the
// same .cu files as C++ against this header instead of <cuda_runtime.h>, and the CUDA tests check
// every kernel against the CPU reference here and in CI. What it checks: a kernel's indexing, its
// bounds (under the sanitizers), its reductions and its use of __syncthreads and warp shuffles.
// What it cannot: timing, occupancy, races that need real concurrency, the memory model, tensor
// cores and the cuBLAS/cuDNN library versions (absent here).
//
// Model: a launch runs its blocks one after another on the calling thread; the threads of a block
// are fibers (own stacks, a hand-written context switch, round-robin), so __syncthreads and the
// warp intrinsics suspend a thread until every live thread of its block (or warp) has arrived.
// __shared__ variables are static thread_local: one copy per OS thread, reused by each block.
// Threads that have returned count as arrived (as on the hardware since Volta).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

// ---- vector and index types (as in CUDA's vector_types.h) ----
struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) double2 {
  double x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }

namespace cxr::emu {

struct BlockState {
  uint3 block_idx;
  dim3 block_dim, grid_dim;
};
struct ThreadState {
  uint3 thread_idx;
  int linear = 0;  // x + y * dim.x + z * dim.x * dim.y
};
const BlockState& this_block();
const ThreadState& this_thread();

void sync_block();  // __syncthreads
void sync_warp();   // __syncwarp: every live lane of the calling thread's warp

// The 16-byte slot of lane `lane` in the calling thread's warp, for the shuffles.
void* warp_slot(int lane);
inline int lane_id() { return this_thread().linear % 32; }

template <typename T>
T shuffle(T value, int src_lane) {
  static_assert(sizeof(T) <= 16, "emulated shuffle of a value wider than 16 bytes");
  std::memcpy(warp_slot(lane_id()), &value, sizeof(T));
  sync_warp();
  T out;
  std::memcpy(&out, warp_slot(src_lane), sizeof(T));
  sync_warp();  // nobody overwrites a slot before every lane has read
  return out;
}
unsigned ballot(bool predicate);

// Runs kernel_body (which calls the kernel with its arguments) for every thread of the grid.
// `kernel_name` appears in the errors (a deadlock: threads waiting at different barriers).
using KernelBody = void (*)(void* closure);
void launch(dim3 grid, dim3 block, const char* kernel_name, KernelBody body, void* closure);

template <typename F>
void launch(dim3 grid, dim3 block, const char* kernel_name, F&& f) {
  launch(grid, block, kernel_name, [](void* c) { (*static_cast<std::remove_reference_t<F>*>(c))(); }, &f);
}

}  // namespace cxr::emu

// ---- the CUDA C++ keywords and built-in variables ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local
#define threadIdx (::cxr::emu::this_thread().thread_idx)
#define blockIdx (::cxr::emu::this_block().block_idx)
#define blockDim (::cxr::emu::this_block().block_dim)
#define gridDim (::cxr::emu::this_block().grid_dim)
#define warpSize 32

inline void __syncthreads() { ::cxr::emu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { ::cxr::emu::sync_warp(); }
inline void __threadfence() {}

template <typename T>
T __shfl_sync(unsigned, T v, int src, int width = 32) {
  const int lane = ::cxr::emu::lane_id();
  return ::cxr::emu::shuffle(v, (lane / width) * width + src % width);
}
template <typename T>
T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
  const int lane = ::cxr::emu::lane_id();
  const int src = lane ^ mask;
  return ::cxr::emu::shuffle(v, (src / width == lane / width) ? src : lane);
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = ::cxr::emu::lane_id();
  const int src = lane + int(delta);
  return ::cxr::emu::shuffle(v, (src / width == lane / width) ? src : lane);
}
template <typename T>
T __shfl_up_sync(unsigned, T v, unsigned delta, int width = 32) {
  const int lane = ::cxr::emu::lane_id();
  const int src = lane - int(delta);
  return ::cxr::emu::shuffle(v, (src >= 0 && src / width == lane / width) ? src : lane);
}
inline unsigned __ballot_sync(unsigned, int predicate) { return ::cxr::emu::ballot(predicate != 0); }
inline int __any_sync(unsigned, int predicate) { return ::cxr::emu::ballot(predicate != 0) != 0; }
inline int __all_sync(unsigned, int predicate) { return ::cxr::emu::ballot(predicate == 0) == 0; }

// Blocks run one at a time on one OS thread, so the atomics are plain read-modify-writes.
template <typename T>
T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
template <typename T>
T atomicMax(T* address, T value) {
  T old = *address;
  if (value > old) *address = value;
  return old;
}
template <typename T>
T atomicMin(T* address, T value) {
  T old = *address;
  if (value < old) *address = value;
  return old;
}
template <typename T>
T atomicExch(T* address, T value) {
  T old = *address;
  *address = value;
  return old;
}
template <typename T>
T atomicCAS(T* address, T compare, T value) {
  T old = *address;
  if (old == compare) *address = value;
  return old;
}
template <typename T>
T __ldg(const T* p) {
  return *p;
}

inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }

// ---- the runtime API subset cuda/runtime.cu uses (device memory is host memory here) ----
using cudaError_t = int;
inline constexpr cudaError_t cudaSuccess = 0;
inline constexpr cudaError_t cudaErrorMemoryAllocation = 2;
inline constexpr cudaError_t cudaErrorInvalidValue = 1;
using cudaStream_t = struct CUstream_st*;
using cudaEvent_t = struct CUevent_st*;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4
};
inline constexpr unsigned cudaStreamNonBlocking = 1;
inline constexpr unsigned cudaEventDefault = 0;
inline constexpr unsigned cudaEventDisableTiming = 2;
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int multiProcessorCount;
  int major, minor;
  int memoryBusWidth;
  size_t l2CacheSize;
  size_t sharedMemPerBlock;
};

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
enum cudaDeviceAttr { cudaDevAttrClockRate = 13, cudaDevAttrMemoryClockRate = 36 };
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaGetLastError();
const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);

namespace cxr::emu {
// True when [p, p + bytes) lies inside one live emulated device allocation (the copy kernels check
// that the device side of a transfer is device memory and the host side is not).
bool is_device_memory(const void* p, size_t bytes);
}  // namespace cxr::emu
