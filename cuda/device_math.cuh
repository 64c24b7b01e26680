// device_math.cuh — the math functions the kernels use, one overload per floating type, so that a
// float32 kernel calls the float32 function (expf, not exp through a double) on the device and in
// the emulated build alike; and the value conversions of the copy kernel, the same rules as the
// CPU reference (ops/copy.cpp): NaN -> 0 and saturation when floating becomes int64, anything
// non-zero is true.
#pragma once

#include "cuda/common.cuh"

#if defined(CXR_CUDA_EMULATION)
#include <cmath>
#define CXR_DM_F(name, std_name)                                        \
  inline float name(float x) { return std::std_name(x); }              \
  inline double name(double x) { return std::std_name(x); }
#else
#define CXR_DM_F(name, std_name)                                        \
  __device__ __forceinline__ float name(float x) { return std_name##f(x); } \
  __device__ __forceinline__ double name(double x) { return std_name(x); }
#endif

namespace cxr::cuda::dm {

CXR_DM_F(exp, exp)
CXR_DM_F(log, log)
CXR_DM_F(log1p, log1p)
CXR_DM_F(sqrt, sqrt)
CXR_DM_F(tanh, tanh)
CXR_DM_F(erf, erf)
CXR_DM_F(fabs, fabs)

#if defined(CXR_CUDA_EMULATION)
inline float pow(float a, float b) { return std::pow(a, b); }
inline double pow(double a, double b) { return std::pow(a, b); }
#else
__device__ __forceinline__ float pow(float a, float b) { return powf(a, b); }
__device__ __forceinline__ double pow(double a, double b) { return ::pow(a, b); }
#endif
// int64 pow, as the CPU reference computes it: std::pow in double, then truncated.
__device__ __forceinline__ int64_t pow(int64_t a, int64_t b) { return int64_t(pow(double(a), double(b))); }

template <typename T>
__host__ __device__ __forceinline__ bool is_nan(T v) {
  return v != v;
}

// ---- conversions (ops/copy.cpp's convert) ----
template <typename To, typename From>
__host__ __device__ __forceinline__ To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_same_v<To, int64_t> && std::is_floating_point_v<From>) {
    if (v != v) return 0;
    if (v >= From(9.2233720368547758e18)) return INT64_MAX;
    if (v <= From(-9.2233720368547758e18)) return INT64_MIN;
    return static_cast<int64_t>(v);
  } else {
    return static_cast<To>(v);
  }
}

}  // namespace cxr::cuda::dm

#undef CXR_DM_F
