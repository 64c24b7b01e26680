// nchw.cuh — element access to the 4-D (N, C, H, W) tensors of the convolution and pooling kernels
// (conv.cu, pool.cu): a strided view's element (i, j, k, l), a linear index of a contiguous NCHW
// tensor split back into its coordinates, the check that an output is contiguous. Offsets in
// elements, 64-bit.
#pragma once

#include "cuda/common.cuh"

namespace cxr::cuda {

// Element (i, j, k, l) of a 4-D strided tensor.
template <typename T>
struct Strided4 {
  const T* data;
  int64_t s0, s1, s2, s3;
  __device__ T operator()(int64_t i, int64_t j, int64_t k, int64_t l) const {
    return data[i * s0 + j * s1 + k * s2 + l * s3];
  }
};
template <typename T>
Strided4<T> strided4(const Tensor& t) {
  return {device_data<T>(t), t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

// The coordinates (n, c, h, w) of linear index i of a contiguous (., C, H, W) tensor.
struct Nchw {
  int64_t n, c, h, w;
};
__host__ __device__ inline Nchw unflatten(int64_t i, int64_t C, int64_t H, int64_t W) {
  const int64_t w = i % W, t = i / W, h = t % H, nc = t / H;
  return {nc / C, nc % C, h, w};
}

// The outputs of the conv and pool kernels are fresh contiguous tensors (tensor/kernels/conv.h);
// an empty one's strides are whatever they are.
inline void check_contiguous_output(const char* op, const Tensor& out) {
  CXR_CHECK(out.numel() == 0 || out.is_contiguous(), op, ": the CUDA kernel writes a contiguous output, got ", shape_str(out.shape()),
            " with strides ", shape_str(out.strides()));
}

}  // namespace cxr::cuda
