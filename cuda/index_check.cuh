// index_check.cuh — reporting a bad index or class target found on the device with the CPU
// reference's message: a kernel records the smallest row-major position that holds one (an
// integer atomicMin, so the answer does not depend on the order the threads ran in), the host
// reads it back with one synchronizing copy, then reads the value there and throws.
//   BadPositionFlag bad;  launch(..., bad.device());  if (int64_t p = bad.first(); p >= 0) fail(...);
#pragma once

#include "cuda/indexing.cuh"

namespace cxr::cuda {

inline constexpr unsigned long long kNoBadPosition = ~0ull;

__device__ __forceinline__ void flag_bad_position(unsigned long long* flag, int64_t position) {
  atomicMin(flag, static_cast<unsigned long long>(position));
}

class BadPositionFlag {
 public:
  BadPositionFlag() : buffer_(empty({1}, {DType::Int64, Device::CUDA, false})) {
    CXR_CUDA_CHECK(cudaMemsetAsync(buffer_.data_ptr(), 0xff, sizeof(unsigned long long), stream()));
  }
  unsigned long long* device() const { return static_cast<unsigned long long*>(buffer_.data_ptr()); }
  // Waits for the queued work; the smallest flagged position, or -1 when none was flagged.
  int64_t first() const {
    unsigned long long v = 0;
    CXR_CUDA_CHECK(cudaMemcpyAsync(&v, buffer_.data_ptr(), sizeof v, cudaMemcpyDeviceToHost, stream()));
    CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
    return v == kNoBadPosition ? -1 : int64_t(v);
  }

 private:
  Tensor buffer_;
};

// The value at row-major position `position` of the int64 CUDA tensor t (one synchronizing copy).
inline int64_t int64_at(const Tensor& t, int64_t position) {
  int64_t offset = 0;
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    const int64_t size = t.shape()[size_t(d)];
    offset += position % size * t.strides()[size_t(d)];
    position /= size;
  }
  int64_t value = 0;
  CXR_CUDA_CHECK(cudaMemcpyAsync(&value, device_data<int64_t>(t) + offset, sizeof value, cudaMemcpyDeviceToHost, stream()));
  CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
  return value;
}

}  // namespace cxr::cuda
