// elementwise.cu — unary, binary, clamp, where, fill and copy on CUDA tensors: one grid-stride
// kernel per operand count, the op a functor, every operand read through its strides
// (indexing.cuh; a contiguous iteration costs no division). Same contracts and the same
// expressions as the reference kernels (ops/elementwise.cpp, ops/copy.cpp), so the results differ
// from the CPU's only where the device's math library rounds exp/log/erf/tanh/pow differently
// (within a few ulp). copy also moves values between the host and the device.
//
// Cost: memory-bound. n elements, k operands of b bytes: n*k*b bytes moved, a few flops each; the
// floor is n*k*b / bandwidth (on an H100, ~3.35 TB/s: 1M float32 unary ops, 8 MB, >= 2.4 us).
#include "cuda/device_math.cuh"
#include "cuda/indexing.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {
namespace {

// ---- the generic maps: out[i] = f(in[i]...) over one StridedIter ----
template <typename R, typename T, typename F>
__global__ void map1_kernel(StridedIter<2> it, int64_t n, R* out, const T* x, F f) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    it.offsets(i, off);
    out[off[0]] = f(x[off[1]]);
  }
}

template <typename R, typename T, typename F>
__global__ void map2_kernel(StridedIter<3> it, int64_t n, R* out, const T* a, const T* b, F f) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    it.offsets(i, off);
    out[off[0]] = f(a[off[1]], b[off[2]]);
  }
}

template <typename T>
__global__ void where_kernel(StridedIter<4> it, int64_t n, T* out, const bool* cond, const T* a, const T* b) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[4];
    it.offsets(i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <typename T>
__global__ void fill_kernel(StridedIter<1> it, int64_t n, T* out, T value) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[1];
    it.offsets(i, off);
    out[off[0]] = value;
  }
}

template <typename R, typename T, typename F>
void map1(const char* name, const Tensor& x, const Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const auto it = make_iter<2>(name, out.shape(), {out.strides(), x.strides()});
  launch(name, map1_kernel<R, T, F>, blocks_for(n), kBlock, it, n, device_data<R>(out), device_data<T>(x), f);
}

template <typename T, typename R, typename F>
void map2(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const auto it = make_iter<3>(name, out.shape(), {out.strides(), a.strides(), b.strides()});
  launch(name, map2_kernel<R, T, F>, blocks_for(n), kBlock, it, n, device_data<R>(out), device_data<T>(a),
         device_data<T>(b), f);
}

// ---- the op functors (the reference kernels' expressions) ----
template <typename T>
struct Neg {
  __device__ T operator()(T v) const { return T(-v); }
};
template <typename T>
struct Abs {
  __device__ T operator()(T v) const { return v < 0 ? T(-v) : v; }
};
template <typename T>
struct Sign {
  __device__ T operator()(T v) const { return T((v > 0) - (v < 0)); }
};
template <typename T>
struct Exp {
  __device__ T operator()(T v) const { return dm::exp(v); }
};
template <typename T>
struct Log {
  __device__ T operator()(T v) const { return dm::log(v); }
};
template <typename T>
struct Sqrt {
  __device__ T operator()(T v) const { return dm::sqrt(v); }
};
template <typename T>
struct Rsqrt {
  __device__ T operator()(T v) const { return T(1) / dm::sqrt(v); }
};
template <typename T>
struct Relu {
  __device__ T operator()(T v) const { return v > 0 ? v : T(0); }
};
template <typename T>
struct ReluMask {
  __device__ T operator()(T v) const { return v > 0 ? T(1) : T(0); }
};
template <typename T>
struct Gelu {  // x Phi(x) = x/2 (1 + erf(x / sqrt 2))
  __device__ T operator()(T v) const { return T(0.5) * v * (T(1) + dm::erf(v * T(0.70710678118654752440))); }
};
template <typename T>
struct GeluDerivative {  // Phi(x) + x phi(x)
  __device__ T operator()(T v) const {
    const T cdf = T(0.5) * (T(1) + dm::erf(v * T(0.70710678118654752440)));
    const T pdf = dm::exp(T(-0.5) * v * v) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
    return cdf + v * pdf;
  }
};
template <typename T>
struct Tanh {
  __device__ T operator()(T v) const { return dm::tanh(v); }
};
template <typename T>
struct Sigmoid {  // never exponentiates a large positive number
  __device__ T operator()(T v) const {
    if (v >= 0) return T(1) / (T(1) + dm::exp(-v));
    const T e = dm::exp(v);
    return e / (T(1) + e);
  }
};
template <typename T>
struct Softplus {
  T beta, threshold;
  __device__ T operator()(T v) const { return v * beta > threshold ? v : dm::log1p(dm::exp(v * beta)) / beta; }
};
template <typename T>
struct Clamp {  // bounds compared in double, so an infinite bound works for int64; NaN passes
  double lo, hi;
  __device__ T operator()(T v) const { return double(v) < lo ? T(lo) : double(v) > hi ? T(hi) : v; }
};

template <typename T>
struct Add {
  __device__ T operator()(T x, T y) const { return T(x + y); }
};
template <typename T>
struct Sub {
  __device__ T operator()(T x, T y) const { return T(x - y); }
};
template <typename T>
struct Mul {
  __device__ T operator()(T x, T y) const { return T(x * y); }
};
template <typename T>
struct Div {
  __device__ T operator()(T x, T y) const { return T(x / y); }
};
template <typename T>
struct Pow {
  __device__ T operator()(T x, T y) const { return T(dm::pow(x, y)); }
};
template <typename T>
struct Maximum {  // NaN propagates, as in PyTorch
  __device__ T operator()(T x, T y) const { return x != x || y != y ? T(x + y) : x > y ? x : y; }
};
template <typename T>
struct Minimum {
  __device__ T operator()(T x, T y) const { return x != x || y != y ? T(x + y) : x < y ? x : y; }
};
template <typename T>
struct Compare {
  BinaryOp op;
  __device__ bool operator()(T x, T y) const {
    switch (op) {
      case BinaryOp::Eq: return x == y;
      case BinaryOp::Ne: return x != y;
      case BinaryOp::Lt: return x < y;
      case BinaryOp::Le: return x <= y;
      case BinaryOp::Gt: return x > y;
      default: return x >= y;
    }
  }
};

template <typename To, typename From>
struct Convert {
  __device__ To operator()(From v) const { return dm::convert<To>(v); }
};

}  // namespace

void unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) {
  if (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Sign) {
    visit_numeric(x.dtype(), "unary", [&]<typename T>() {
      if (op == UnaryOp::Neg) map1<T, T>("neg", x, out, Neg<T>{});
      if (op == UnaryOp::Abs) map1<T, T>("abs", x, out, Abs<T>{});
      if (op == UnaryOp::Sign) map1<T, T>("sign", x, out, Sign<T>{});
    });
    return;
  }
  visit_floating(x.dtype(), "unary", [&]<typename T>() {
    switch (op) {
      case UnaryOp::Exp: map1<T, T>("exp", x, out, Exp<T>{}); break;
      case UnaryOp::Log: map1<T, T>("log", x, out, Log<T>{}); break;
      case UnaryOp::Sqrt: map1<T, T>("sqrt", x, out, Sqrt<T>{}); break;
      case UnaryOp::Rsqrt: map1<T, T>("rsqrt", x, out, Rsqrt<T>{}); break;
      case UnaryOp::Relu: map1<T, T>("relu", x, out, Relu<T>{}); break;
      case UnaryOp::ReluMask: map1<T, T>("relu_mask", x, out, ReluMask<T>{}); break;
      case UnaryOp::Gelu: map1<T, T>("gelu", x, out, Gelu<T>{}); break;
      case UnaryOp::GeluDerivative: map1<T, T>("gelu_derivative", x, out, GeluDerivative<T>{}); break;
      case UnaryOp::Tanh: map1<T, T>("tanh", x, out, Tanh<T>{}); break;
      case UnaryOp::Sigmoid: map1<T, T>("sigmoid", x, out, Sigmoid<T>{}); break;
      case UnaryOp::Softplus: map1<T, T>("softplus", x, out, Softplus<T>{T(p.beta), T(p.threshold)}); break;
      default: fail("unary: unhandled op ", static_cast<int>(op));
    }
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  visit_numeric(a.dtype(), "binary", [&]<typename T>() {
    switch (op) {
      case BinaryOp::Add: map2<T, T>("add", a, b, out, Add<T>{}); break;
      case BinaryOp::Sub: map2<T, T>("sub", a, b, out, Sub<T>{}); break;
      case BinaryOp::Mul: map2<T, T>("mul", a, b, out, Mul<T>{}); break;
      case BinaryOp::Div: map2<T, T>("div", a, b, out, Div<T>{}); break;
      case BinaryOp::Pow: map2<T, T>("pow", a, b, out, Pow<T>{}); break;
      case BinaryOp::Maximum: map2<T, T>("maximum", a, b, out, Maximum<T>{}); break;
      case BinaryOp::Minimum: map2<T, T>("minimum", a, b, out, Minimum<T>{}); break;
      default: map2<T, bool>("compare", a, b, out, Compare<T>{op}); break;
    }
  });
}

void clamp(const Tensor& x, const Tensor& out, double lo, double hi) {
  visit_numeric(x.dtype(), "clamp", [&]<typename T>() { map1<T, T>("clamp", x, out, Clamp<T>{lo, hi}); });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const auto it = make_iter<4>("where", out.shape(), {out.strides(), cond.strides(), a.strides(), b.strides()});
  visit_dtype(a.dtype(), [&]<typename T>() {
    launch("where", where_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(out), device_data<bool>(cond),
           device_data<T>(a), device_data<T>(b));
  });
}

void fill(const Tensor& dst, double value) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  const auto it = make_iter<1>("fill", dst.shape(), {dst.strides()});
  visit_dtype(dst.dtype(), [&]<typename T>() {
    launch("fill", fill_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(dst), dm::convert<T>(value));
  });
}

// ---- copy: on the device, or between the host and the device ----
namespace {
// dst and src both on the device: one strided converting map.
void copy_on_device(const Tensor& dst, const Tensor& src) {
  visit_dtype(dst.dtype(), [&]<typename D>() {
    visit_dtype(src.dtype(), [&]<typename S>() { map1<D, S>("copy", src, dst, Convert<D, S>{}); });
  });
}

size_t nbytes(const Tensor& t) { return size_t(t.numel()) * dtype_size(t.dtype()); }
}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  if (dst.numel() == 0) return;
  const bool to_device = dst.device() == Device::CUDA, from_device = src.device() == Device::CUDA;
  if (to_device && from_device) return copy_on_device(dst, src);
  if (to_device) {
    // Host -> device: the host side is made contiguous in dst's dtype first (the CPU's copy
    // kernel converts), then one transfer; a strided dst gets a device-side copy from a buffer.
    Tensor host = src;
    if (!src.is_contiguous() || src.dtype() != dst.dtype()) {
      host = empty(src.shape(), {dst.dtype(), Device::CPU, false});
      copy_kernel(Device::CPU)(host, src);
    }
    const Tensor target = dst.is_contiguous() ? dst : empty(dst.shape(), {dst.dtype(), Device::CUDA, false});
    // A pageable source: the call returns once the bytes are staged, so `host` may die after it.
    CXR_CUDA_CHECK(cudaMemcpyAsync(target.data_ptr(), host.data_ptr(), nbytes(host), cudaMemcpyHostToDevice, stream()));
    if (!target.same(dst)) copy_on_device(dst, target);
    return;
  }
  CXR_CHECK(from_device, "cuda copy: neither side is a CUDA tensor");
  // Device -> host: contiguous in dst's dtype on the device, one transfer, wait, then a host-side
  // strided copy if dst is strided.
  const Tensor staged = src.is_contiguous() && src.dtype() == dst.dtype() ? src
                                                                            : empty(src.shape(), {dst.dtype(), Device::CUDA, false});
  if (!staged.same(src)) copy_on_device(staged, src);
  const Tensor target = dst.is_contiguous() ? dst : empty(dst.shape(), {dst.dtype(), Device::CPU, false});
  CXR_CUDA_CHECK(cudaMemcpyAsync(target.data_ptr(), staged.data_ptr(), nbytes(staged), cudaMemcpyDeviceToHost, stream()));
  CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (!target.same(dst)) copy_kernel(Device::CPU)(dst, target);
}

}  // namespace cxr::cuda
