// runtime.h — what the rest of cxrlab sees of the CUDA runtime: is there a device, which one, its
// memory, a timer, and the loader's pinned upload. Plain C++ (no CUDA headers), and defined in
// every build: without the backend (-DCXR_CUDA=OFF) available() is false and the reason says so,
// so callers never need an #ifdef.
//
// The backend runs everything on one stream per process (stream order is what makes the caching
// allocator's reuse safe); reading a device tensor on the host synchronizes. The device is 0, or
// CXR_CUDA_DEVICE (a distributed launcher sets one device per rank, see docs/DISTRIBUTED.md).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/tensor.h"

namespace cxr::cuda {

bool built();     // this build has the CUDA backend (compiled by nvcc, or by the emulator)
bool emulated();  // the backend is the CPU emulation of cuda/emulator.h (tests only)
// True when the backend is built and a device answers; never throws. The first call initializes
// the runtime (picks the device, creates the stream).
bool available();
// One line: the device ("NVIDIA H100 80GB HBM3, sm_90, 132 SMs, 79.1 GiB") or why there is none
// ("no CUDA device: CUDA driver version is insufficient for CUDA runtime version").
std::string status();
// Throws cxr::Error "<who>: --device cuda needs an NVIDIA GPU: <why not>" unless available().
void require(const std::string& who);
// The device a --device flag names: "cpu", or "cuda" when available() (else require()'s error).
inline Device select_device(const std::string& name, const std::string& who) {
  if (name == "cpu") return Device::CPU;
  CXR_CHECK(name == "cuda", who, ": --device '", name, "': expected cpu or cuda");
  require(who);
  return Device::CUDA;
}
void synchronize();  // waits for every queued kernel and copy; rethrows a device-side error

struct Properties {
  std::string name;
  int sm_major = 0, sm_minor = 0, multiprocessors = 0;
  int64_t memory_bytes = 0, l2_bytes = 0;
  int clock_khz = 0, memory_clock_khz = 0, memory_bus_bits = 0;
};
Properties properties();  // of the device in use (require()s it)

// ---- the caching device allocator (see runtime.cu) ----
struct AllocatorStats {
  int64_t in_use_bytes = 0;  // held by live tensors, rounded to size classes
  int64_t peak_in_use_bytes = 0;
  int64_t cached_bytes = 0;        // free blocks kept for reuse
  int64_t device_allocations = 0;  // cudaMalloc calls so far (cache misses)
  int64_t cache_hits = 0;
};
AllocatorStats allocator_stats();
void reset_peak_stats();
void empty_cache();  // returns every cached block to the driver

// A CPU tensor's values on the device, copied through a pinned staging buffer so that the copy
// runs asynchronously, overlapping the kernels queued before it (the loader's batches).
Tensor upload(const Tensor& host);

// Wall time of the work queued on the backend's stream between start() and stop(), measured
// with CUDA events (benchmarks).
class Timer {
 public:
  Timer();
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void start();
  void stop();
  double elapsed_ms();  // synchronizes on the stop event

 private:
  void* start_ = nullptr;
  void* stop_ = nullptr;
};

}  // namespace cxr::cuda
