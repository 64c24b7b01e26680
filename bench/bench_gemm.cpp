// bench_gemm.cpp — SGEMM/DGEMM microbenchmarks through matmul (the fast kernel unless
// CXR_KERNELS=reference): square 256..2048, non-square and odd sizes, transposed operands.
// Reported: time per product and GFLOP/s (2 M N K flops). Threads: CXR_THREADS (default: cores).
#include <benchmark/benchmark.h>

#include "tensor/cpu/runtime.h"
#include "ops/ops.h"
#include "tensor/random.h"

using namespace cxr;

namespace {

void run_matmul(benchmark::State& state, DType dtype, bool transpose_a, bool transpose_b) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  Generator g(1);
  Tensor a = transpose_a ? randn({K, M}, {.dtype = dtype}, &g).t() : randn({M, K}, {.dtype = dtype}, &g);
  Tensor b = transpose_b ? randn({N, K}, {.dtype = dtype}, &g).t() : randn({K, N}, {.dtype = dtype}, &g);
  for (auto _ : state) {
    Tensor c = matmul(a, b);
    benchmark::DoNotOptimize(c.data_ptr());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * double(M) * double(N) * double(K), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
  state.counters["threads"] = cpu::num_threads();
}

void SGEMM(benchmark::State& s) { run_matmul(s, DType::Float32, false, false); }
void SGEMM_AtB(benchmark::State& s) { run_matmul(s, DType::Float32, true, false); }
void SGEMM_ABt(benchmark::State& s) { run_matmul(s, DType::Float32, false, true); }
void DGEMM(benchmark::State& s) { run_matmul(s, DType::Float64, false, false); }

void square(benchmark::internal::Benchmark* b) {
  for (int64_t n : {256, 512, 1024, 2048}) b->Args({n, n, n});
}
void shapes(benchmark::internal::Benchmark* b) {
  square(b);
  b->Args({1000, 1000, 1000})
      ->Args({1023, 1025, 1027})
      ->Args({257, 255, 511})  // odd sizes
      ->Args({2048, 256, 1024})
      ->Args({256, 2048, 1024})
      ->Args({1024, 1024, 64})  // non-square
      ->Args({2560, 1024, 256})
      ->Args({2560, 256, 1024})  // transformer FFN shapes (8 x 320 tokens)
      ->Args({8, 16384, 72})
      ->Args({72, 16384, 8})
      ->Args({8, 72, 131072});  // conv lowering, 8 channels
}

}  // namespace

BENCHMARK(SGEMM)->Apply(shapes)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(SGEMM_AtB)->Apply(square)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(SGEMM_ABt)->Apply(square)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(DGEMM)->Args({512, 512, 512})->Args({1024, 1024, 1024})->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- the machine's peak FP32 rate, measured: independent FMA chains, nothing else ----
// 24 accumulators hide the FMA latency on any current x86 core; flops = 2 x lanes x FMAs.
#if defined(__x86_64__)
#include <immintrin.h>
namespace {
__attribute__((target("avx512f"))) float fma_loop_avx512(int64_t iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(float(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
  for (int64_t k = 0; k < iters; ++k)
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}
__attribute__((target("avx2,fma"))) float fma_loop_avx2(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(float(i));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
  for (int64_t k = 0; k < iters; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

// One thread's peak; the machine's is this times the cores (both cores run the same FMA units).
void PeakFMA_OneThread(benchmark::State& state) {
  const bool avx512 = state.range(0) == 512;
  if (avx512 ? !__builtin_cpu_supports("avx512f") : !__builtin_cpu_supports("fma")) {
    state.SkipWithError("instruction set not supported");
    return;
  }
  const int64_t iters = 1 << 20;
  for (auto _ : state) benchmark::DoNotOptimize(avx512 ? fma_loop_avx512(iters) : fma_loop_avx2(iters));
  const double flops = avx512 ? 2.0 * 16 * 24 * double(iters) : 2.0 * 8 * 12 * double(iters);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
}  // namespace
BENCHMARK(PeakFMA_OneThread)->Arg(512)->Arg(256)->Unit(benchmark::kMillisecond);
#endif
