// common.cuh — what the convolution ladder's versions share (cuda/kernels/conv2d/): the sizes of a
// convolution in 32-bit ints for the kernels (every tensor of v1, v2 and v4 has < 2^31 elements, so
// each offset fits; the host checks), floor division, and the deterministic second pass of a split
// reduction: out[i] = the sum of chunk partials in the order z = 0, 1, ..., in double, + bias.
// Tensors are contiguous NCHW float32; weights (C_out, C_in, KH, KW).
#pragma once

#include "cuda/common.cuh"
#include "cuda/kernels/conv2d/conv2d.h"

namespace cxr::cuda::conv2d_common {

struct Dims {
  int N, C_in, H, W, C_out, KH, KW, sh, sw, ph, pw, dh, dw, HO, WO;
};

__host__ __device__ inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Where a partial sum's element i of the output lies in a chunk of partials: the chunks are
// `chunk_stride` apart; `rows` x `cols` GEMM layout (row = channel, col = (n, pixel)) when
// `nchw`, else the output's own order.
struct PartialLayout {
  int chunks, chunk_stride;
  bool nchw;       // the output is NCHW (N, rows, plane) and a chunk holds rows x (N * plane)
  int rows, plane;  // channels and pixels per channel (nchw only)
  const float* bias;  // per channel (nchw only), or null
};

// out[i] (n_out elements) = sum over z of partials[z * chunk_stride + j(i)] (+ bias), in order z.
__global__ void sum_chunks_kernel(int n_out, PartialLayout l, const float* partials, float* out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n_out; i += int64_t(blockDim.x) * gridDim.x) {
    int64_t j = i, channel = 0;
    if (l.nchw) {
      const int64_t pixel = i % l.plane, t = i / l.plane, n = t / l.rows;
      channel = t % l.rows;
      j = channel * (int64_t(n_out) / l.rows) + n * l.plane + pixel;
    }
    double acc = 0;
    for (int z = 0; z < l.chunks; ++z) acc += partials[int64_t(z) * l.chunk_stride + j];
    out[i] = l.bias ? float(acc + double(l.bias[channel])) : float(acc);
  }
}

inline void sum_chunks(const char* name, int n_out, const PartialLayout& l, const float* partials, float* out) {
  launch(name, sum_chunks_kernel, blocks_for(n_out), kBlock, n_out, l, partials, out);
}

}  // namespace cxr::cuda::conv2d_common
