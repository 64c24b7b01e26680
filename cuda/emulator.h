// emulator.h — the CUDA programming model on the CPU, so that the hand-written kernels of cuda/
// run (slowly) on a machine without a GPU: the build with -DCXR_CUDA_EMULATION=ON compiles the
// same .cu files as C++ against this header instead of <cuda_runtime.h>, and the CUDA tests check
// every kernel against the CPU reference here and in CI. What it checks: a kernel's indexing, its
// bounds (under the sanitizers), its reductions and its use of __syncthreads and warp shuffles.
// What it cannot: timing, occupancy, races that need real concurrency, the memory model and the
// cuBLAS/cuDNN library versions (absent here). Tensor cores are emulated only through the
// nvcuda::wmma subset below (TF32 m16n16k8 and BF16 m16n16k16 with FP32 accumulation), with the
// hardware's input roundings; inline PTX (mma.sync, cp.async) cannot run here.
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
#include <utility>

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

// ---- bfloat16 and TF32 conversions (the subset of cuda_bf16.h and mma.h the kernels use) ----
// The hardware's roundings, bit for bit: __float2bfloat16 rounds to nearest, ties to even (cvt.rn);
// wmma::__float_to_tf32 keeps 10 mantissa bits rounding to nearest, ties away from zero (cvt.rna).
// NaN becomes the canonical NaN, infinities stay infinite, and a finite value that rounds past the
// largest finite one becomes infinite, as on the device.
struct __nv_bfloat16 {
  unsigned short bits;
};
namespace cxr::emu {
inline uint32_t float_bits(float f) { return uint32_t(__float_as_int(f)); }
inline float bits_float(uint32_t u) { return __int_as_float(int(u)); }
}  // namespace cxr::emu
inline __nv_bfloat16 __float2bfloat16(float f) {
  const uint32_t u = ::cxr::emu::float_bits(f);
  if (f != f) return {0x7fffu};                                // the canonical NaN cvt.rn writes
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);                   // to nearest, ties to even
  return {static_cast<unsigned short>(rounded >> 16)};
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return ::cxr::emu::bits_float(uint32_t(h.bits) << 16); }

// ---- nvcuda::wmma: warp-level matrix multiply-accumulate on the tensor cores ----
// A fragment holds its whole tile in every lane, row-major in x[] (the hardware spreads a tile over
// the warp's 32 lanes in an unspecified order, so a kernel may only treat x[] elementwise, for
// every i < num_elements, as the CUDA guide allows). Every operation is warp-collective as on the
// device: it starts with a warp barrier, so a call that not every lane of the warp reaches is
// reported as a deadlock. load_matrix_sync and store_matrix_sync check the device's rules: the
// pointer 256-bit aligned, ldm a multiple of 16 bytes. store_matrix_sync writes from each lane
// only its share of the tile (elements lane, lane + 32, ...), so a kernel that reads another
// lane's part of a stored tile without a __syncwarp between reads stale memory here too.
// mma_sync reads only the TF32 bits of a tf32 operand (the low 13 mantissa bits are ignored, as by
// the tensor cores; the kernels round with __float_to_tf32 first) and BF16 operands exactly; the
// products are exact in float32 and are summed in k order into the float32 accumulator (the
// hardware adds them in another order, a few float32 roundings apart).
namespace nvcuda::wmma {
struct row_major;
struct col_major;
struct matrix_a;
struct matrix_b;
struct accumulator;
namespace precision {
struct tf32;
}
enum layout_t { mem_row_major, mem_col_major };

inline float __float_to_tf32(float f) {
  const uint32_t u = ::cxr::emu::float_bits(f);
  if (f != f) return ::cxr::emu::bits_float(0x7fffffffu);  // the canonical NaN cvt.rna writes
  if ((u & 0x7f800000u) == 0x7f800000u) return f;            // infinities
  return ::cxr::emu::bits_float((u + 0x1000u) & 0xffffe000u);  // magnitude + half an ulp: ties away
}

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
  static constexpr bool tf32 = std::is_same_v<T, precision::tf32>;
  static_assert(M == 16 && N == 16 && ((K == 8 && (tf32 || std::is_same_v<Use, accumulator>)) ||
                                       (K == 16 && !tf32)),
                "the emulator has wmma m16n16k8 (tf32) and m16n16k16 (bf16) with float accumulators");
  static_assert(std::is_same_v<Use, accumulator> == std::is_same_v<Layout, void>,
                "matrix_a / matrix_b fragments take row_major or col_major, accumulators none");

 public:
  using element_type = T;
  using storage_element_type = std::conditional_t<tf32, float, T>;
  static constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  static constexpr int num_storage_elements = num_elements;
  storage_element_type x[num_elements];
};

}  // namespace nvcuda::wmma

namespace cxr::emu {
// Throws (naming the call) unless p is 32-byte aligned and ldm * element_bytes a multiple of 16.
void check_wmma_access(const char* call, const void* p, unsigned ldm, size_t element_bytes);
inline float wmma_operand(float v) { return bits_float(float_bits(v) & 0xffffe000u); }  // tf32 bits
inline float wmma_operand(__nv_bfloat16 v) { return __bfloat162float(v); }
}  // namespace cxr::emu

namespace nvcuda::wmma {

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f,
                   const typename fragment<Use, M, N, K, T, Layout>::storage_element_type& v) {
  ::cxr::emu::sync_warp();
  for (auto& e : f.x) e = v;
}

// matrix_a / matrix_b: element (r, c) of the tile at p[r * ldm + c] (row_major) or p[c * ldm + r].
template <typename Use, int M, int N, int K, typename T, typename Layout, typename E>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const E* p, unsigned ldm) {
  using Frag = fragment<Use, M, N, K, T, Layout>;
  static_assert(!std::is_same_v<Use, accumulator>, "an accumulator load takes a layout_t");
  static_assert(std::is_same_v<E, typename Frag::storage_element_type>, "wmma load from memory of another type");
  ::cxr::emu::sync_warp();
  ::cxr::emu::check_wmma_access("wmma::load_matrix_sync", p, ldm, sizeof(E));
  constexpr bool row = std::is_same_v<Layout, row_major>;
  for (int r = 0; r < Frag::rows; ++r)
    for (int c = 0; c < Frag::cols; ++c)
      f.x[r * Frag::cols + c] = row ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K>
void load_matrix_sync(fragment<accumulator, M, N, K, float>& f, const float* p, unsigned ldm, layout_t layout) {
  ::cxr::emu::sync_warp();
  ::cxr::emu::check_wmma_access("wmma::load_matrix_sync", p, ldm, sizeof(float));
  for (int r = 0; r < M; ++r)
    for (int c = 0; c < N; ++c)
      f.x[r * N + c] = layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  ::cxr::emu::sync_warp();
  ::cxr::emu::check_wmma_access("wmma::store_matrix_sync", p, ldm, sizeof(float));
  for (int i = ::cxr::emu::lane_id(); i < M * N; i += 32) {
    const int r = i / N, c = i % N;
    (layout == mem_row_major ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r]) = f.x[i];
  }
}

// d = a b + c (d may be c).
template <int M, int N, int K, typename T, typename LayoutA, typename LayoutB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LayoutA>& a,
              const fragment<matrix_b, M, N, K, T, LayoutB>& b, const fragment<accumulator, M, N, K, float>& c) {
  ::cxr::emu::sync_warp();
  float out[M * N];
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = c.x[i * N + j];
      for (int k = 0; k < K; ++k)
        acc += ::cxr::emu::wmma_operand(a.x[i * K + k]) * ::cxr::emu::wmma_operand(b.x[k * N + j]);
      out[i * N + j] = acc;
    }
  std::memcpy(d.x, out, sizeof out);
}

}  // namespace nvcuda::wmma
