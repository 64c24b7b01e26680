// dtype.h — element types and devices, and visit_dtype(), which turns a runtime dtype into a
// compile-time C++ type for a templated kernel body:
//   visit_dtype(x.dtype(), "relu", [&]<typename T>() { ... T ... });
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/error.h"

namespace cxr {

enum class DType : uint8_t { Float32, Float64, Int64, Bool };
enum class Device : uint8_t { CPU, CUDA };
inline constexpr int kNumDevices = 2;

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

constexpr const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }

// The C++ type that stores a dtype. Bool is stored as one byte holding 0 or 1.
template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

// Calls f.template operator()<T>() with T the storage type of dtype t.
template <typename F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Int64: return f.template operator()<int64_t>();
    case DType::Bool: return f.template operator()<bool>();
  }
  fail("visit_dtype: invalid dtype");
}

// Like visit_dtype, for kernels defined on floating types only; `op` names the op in the error.
template <typename F>
decltype(auto) visit_floating(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    default: fail(op, ": expected a floating tensor (float32 or float64), got ", dtype_name(t));
  }
}

// Floating and int64 (arithmetic types); bool is rejected.
template <typename F>
decltype(auto) visit_numeric(DType t, const char* op, F&& f) {
  switch (t) {
    case DType::Float32: return f.template operator()<float>();
    case DType::Float64: return f.template operator()<double>();
    case DType::Int64: return f.template operator()<int64_t>();
    default: fail(op, ": expected a numeric tensor (float32, float64 or int64), got ", dtype_name(t));
  }
}

}  // namespace cxr
