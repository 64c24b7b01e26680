// roofline.cu — the peak-rate kernels behind roofline.h.
//   fp32: each thread runs 8 independent FMA chains (enough to hide the 4-cycle FMA latency) for
//     many iterations; flops = 2 * chains * iterations * threads. The grid fills every SM several
//     times over.
//   tf32 / bf16: each warp issues wmma::mma_sync on fragments that stay in registers (no memory
//     traffic), m16n16k8 (tf32) or m16n16k16 (bf16): 2*16*16*k flops per mma per warp.
//   dram: a float4 grid-stride copy of 512 MiB to another 512 MiB: bytes = read + written.
// The results only need to be kept alive (written once), not meaningful.
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/indexing.cuh"
#include "cuda/kernels/roofline.h"

#if !defined(CXR_CUDA_EMULATION)
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace cxr::cuda {
namespace {

constexpr int kFmaIterations = 4096;

__global__ void fp32_fma_kernel(float* out, float seed) {
  float a0 = seed + threadIdx.x, a1 = a0 + 1, a2 = a0 + 2, a3 = a0 + 3, a4 = a0 + 4, a5 = a0 + 5, a6 = a0 + 6,
        a7 = a0 + 7;
  const float m = 0.999f, c = 0.001f;
  for (int i = 0; i < kFmaIterations; ++i) {
    a0 = a0 * m + c, a1 = a1 * m + c, a2 = a2 * m + c, a3 = a3 * m + c;
    a4 = a4 * m + c, a5 = a5 * m + c, a6 = a6 * m + c, a7 = a7 * m + c;
  }
  const float sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  if (sum == 12345.f) out[0] = sum;  // never true; keeps the chains alive
}

__global__ void copy_kernel(const float4* __restrict__ in, float4* __restrict__ out, int64_t n) {
  CXR_GRID_STRIDE_LOOP(i, n) out[i] = in[i];
}

#if !defined(CXR_CUDA_EMULATION)
constexpr int kMmaIterations = 2048;

__global__ void tf32_mma_kernel(float* out) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> c;
  wmma::fill_fragment(a, 0.5f);
  wmma::fill_fragment(b, 0.25f);
  wmma::fill_fragment(c, 0.0f);
  for (int i = 0; i < kMmaIterations; ++i) wmma::mma_sync(c, a, b, c);
  if (c.x[0] == 12345.f) out[0] = c.x[0];
}

__global__ void bf16_mma_kernel(float* out) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::fill_fragment(a, __float2bfloat16(0.5f));
  wmma::fill_fragment(b, __float2bfloat16(0.25f));
  wmma::fill_fragment(c, 0.0f);
  for (int i = 0; i < kMmaIterations; ++i) wmma::mma_sync(c, a, b, c);
  if (c.x[0] == 12345.f) out[0] = c.x[0];
}
#endif

// The best of `runs` timings of f(), in ms.
template <typename F>
double best_ms(int runs, F&& f) {
  double best = 1e30;
  Timer t;
  for (int r = 0; r < runs; ++r) {
    t.start();
    f();
    t.stop();
    best = std::min(best, t.elapsed_ms());
  }
  return best;
}

}  // namespace

void flush_l2() {
  static Tensor buffer;
  const int64_t bytes = std::max<int64_t>(2 * properties().l2_bytes, 8 << 20);
  if (!buffer.defined() || buffer.numel() < bytes) buffer = empty({bytes}, {DType::Bool, Device::CUDA});
  CXR_CUDA_CHECK(cudaMemsetAsync(buffer.data_ptr(), 0, size_t(bytes), stream()));
}

RooflineRates measure_roofline() {
  require("roofline");
  RooflineRates r;
  const int sms = std::max(1, properties().multiprocessors);
  Tensor sink = zeros({1}, {.device = Device::CUDA});
  float* out = device_data<float>(sink);
  {
    const dim3 grid(unsigned(sms * 8)), block(256);
    launch("fp32_fma", fp32_fma_kernel, grid, block, out, 1.0f);  // warm-up
    const double ms = best_ms(5, [&] { launch("fp32_fma", fp32_fma_kernel, grid, block, out, 1.0f); });
    const double flops = 2.0 * 8 * kFmaIterations * double(grid.x) * block.x;
    r.fp32_gflops = flops / (ms * 1e6);
  }
  {
    const int64_t n = (int64_t(512) << 20) / 16;  // float4s in 512 MiB
    Tensor a = zeros({n * 4}, {.device = Device::CUDA}), b = empty({n * 4}, {.device = Device::CUDA});
    const auto* in = reinterpret_cast<const float4*>(a.data_ptr());
    auto* dst = reinterpret_cast<float4*>(b.data_ptr());
    const dim3 grid(unsigned(sms * 16)), block(256);
    launch("copy", copy_kernel, grid, block, in, dst, n);
    const double ms = best_ms(5, [&] { launch("copy", copy_kernel, grid, block, in, dst, n); });
    r.dram_gbps = 2.0 * double(n) * 16 / (ms * 1e6);
  }
#if !defined(CXR_CUDA_EMULATION)
  {
    const dim3 grid(unsigned(sms * 8)), block(128);  // 4 warps per block
    const double warps = double(grid.x) * (block.x / 32);
    launch("tf32_mma", tf32_mma_kernel, grid, block, out);
    double ms = best_ms(5, [&] { launch("tf32_mma", tf32_mma_kernel, grid, block, out); });
    r.tf32_gflops = 2.0 * 16 * 16 * 8 * kMmaIterations * warps / (ms * 1e6);
    launch("bf16_mma", bf16_mma_kernel, grid, block, out);
    ms = best_ms(5, [&] { launch("bf16_mma", bf16_mma_kernel, grid, block, out); });
    r.bf16_gflops = 2.0 * 16 * 16 * 16 * kMmaIterations * warps / (ms * 1e6);
  }
#endif
  return r;
}

}  // namespace cxr::cuda
