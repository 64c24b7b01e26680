// gemm.cpp — the strided-matrix GEMM entry points (gemm.h), the per-thread packing buffers, and
// bmm_fast, matmul's fast kernel: one packed GEMM per batch element, operands read through their
// strides (a transposed view is packed as cheaply as a contiguous one).
#include "tensor/cpu/gemm.h"

#include <cstdlib>
#include <memory>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "tensor/cpu/kernels.h"

namespace cxr::cpu {

template <typename T>
static void pack_transposed_scalar(const T* src, int64_t rs, int64_t rows, int64_t k0, int64_t kc, int mr, T* dst) {
  for (int64_t k = k0; k < kc; ++k) {
    T* d = dst + k * mr;
    for (int64_t r = 0; r < rows; ++r) d[r] = src[r * rs + k];
    for (int64_t r = rows; r < mr; ++r) d[r] = T(0);
  }
}

void pack_transposed(const double* src, int64_t rs, int64_t rows, int64_t kc, int mr, double* dst) {
  pack_transposed_scalar(src, rs, rows, 0, kc, mr, dst);
}

void pack_transposed(const float* src, int64_t rs, int64_t rows, int64_t kc, int mr, float* dst) {
#if defined(__SSE2__)
  const int64_t k4 = kc / 4 * 4;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * rs;
    for (int64_t k = 0; k < k4; k += 4) {
      __m128 x0 = _mm_loadu_ps(s + k), x1 = _mm_loadu_ps(s + rs + k);
      __m128 x2 = _mm_loadu_ps(s + 2 * rs + k), x3 = _mm_loadu_ps(s + 3 * rs + k);
      _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
      _mm_storeu_ps(dst + k * mr + r, x0);
      _mm_storeu_ps(dst + (k + 1) * mr + r, x1);
      _mm_storeu_ps(dst + (k + 2) * mr + r, x2);
      _mm_storeu_ps(dst + (k + 3) * mr + r, x3);
    }
  }
  // The rows left over (and the zero padding) for k < k4, then every row for the last k.
  for (int64_t k = 0; k < k4; ++k) {
    float* d = dst + k * mr;
    for (int64_t rr = r; rr < rows; ++rr) d[rr] = src[rr * rs + k];
    for (int64_t rr = rows; rr < mr; ++rr) d[rr] = 0.0f;
  }
  pack_transposed_scalar(src, rs, rows, k4, kc, mr, dst);
#else
  pack_transposed_scalar(src, rs, rows, 0, kc, mr, dst);
#endif
}

template <typename T>
static void gemm_strided(int64_t M, int64_t N, int64_t K, StridedMatrix<T> A, StridedMatrix<T> B, T* C, int64_t ldc,
                         bool accumulate) {
  gemm_packed<T>(M, N, K, PackStridedA<T>{A}, PackStridedB<T>{B}, C, ldc, accumulate);
}

void gemm(int64_t M, int64_t N, int64_t K, StridedMatrix<float> A, StridedMatrix<float> B, float* C, int64_t ldc,
          bool accumulate) {
  gemm_strided(M, N, K, A, B, C, ldc, accumulate);
}
void gemm(int64_t M, int64_t N, int64_t K, StridedMatrix<double> A, StridedMatrix<double> B, double* C, int64_t ldc,
          bool accumulate) {
  gemm_strided(M, N, K, A, B, C, ldc, accumulate);
}

// bmm: out[p] = a[p] · b[p]. Many small products (attention heads) run one per thread, each GEMM
// serial; otherwise the batch runs in order with each GEMM using the threads. Either way every
// output element is one GEMM's fixed-order sum, so the result does not depend on the threads.
void bmm_fast(const Tensor& a, const Tensor& b, const Tensor& out) {
  const bool shapes_ok = a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && a.size(0) == b.size(0) &&
                         a.size(0) == out.size(0) && a.size(2) == b.size(1) && out.size(1) == a.size(1) &&
                         out.size(2) == b.size(2) && a.dtype() == b.dtype() && a.dtype() == out.dtype();
  if (!shapes_ok || !is_floating(a.dtype()) || (out.size(2) > 1 && out.stride(2) != 1)) {
    bmm_kernel.cpu_reference()(a, b, out);  // the reference reports the error, or handles the layout
    return;
  }
  visit_floating(a.dtype(), "bmm", [&]<typename T>() {
    const int64_t batch = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    auto one = [&](int64_t p) {
      gemm(M, N, K, StridedMatrix<T>{pa + p * a.stride(0), a.stride(1), a.stride(2)},
           StridedMatrix<T>{pb + p * b.stride(0), b.stride(1), b.stride(2)}, po + p * out.stride(0), out.stride(1),
           false);
    };
    const int threads = num_threads();
    if (threads > 1 && batch >= threads && M * N * std::max<int64_t>(K, 1) < 64 * kParallelGemmMinWork) {
      parallel_for(batch, 1, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) one(p);
      });
    } else {
      for (int64_t p = 0; p < batch; ++p) one(p);
    }
  });
}

}  // namespace cxr::cpu
