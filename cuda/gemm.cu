// gemm.cu — bmm on CUDA tensors: out (B, M, N) = a (B, M, K) b (B, K, N) for float32 and float64,
// one launch over every batch element (grid z): float32 through the SGEMM ladder's selected version
// (cuda/kernels/sgemm/, docs/KERNELS.md), float64 through the GEMM core of gemm.cuh. The operands are read
// in place through their strides: transposed views and batch broadcasts (stride 0) cost no copy;
// out is contiguous. K == 0 gives zeros (the core's K loop does not run). Same contract as the
// reference kernel (ops/linalg.cpp, bmm_cpu), which accumulates in double: float32 results differ
// from it by the float32 rounding of the K-term sums (tests/test_cuda_gemm.cpp states the bound).
//
// Cost: 2 B M N K flops; at least B (M K + K N + M N) elements moved. On an H100 (~67 TFLOP/s FP32,
// ~3.35 TB/s) a 4096^3 SGEMM is 137 GFLOP, >= 2.05 ms (its 201 MB take 60 us): compute-bound.
// Float64 is bound by ~34 TFLOP/s (non-tensor FP64). Small or skinny GEMMs (M or N below a tile,
// the matrix-vector products) are memory-bound: (M K + K N + M N) bytes / 3.35 TB/s.
#include "cuda/gemm.cuh"
#include "cuda/kernels.h"
#include "cuda/kernels/sgemm/sgemm.h"

namespace cxr::cuda {
namespace {

template <typename T>
struct BmmArgs {
  const T* a;
  const T* b;
  T* out;
  int64_t batch, M, N, K;
  int64_t a_strides[3], b_strides[3];
};

template <typename T>
__global__ void __launch_bounds__(kGemmThreads) bmm_kernel(BmmArgs<T> p) {
  for (int64_t z = blockIdx.z; z < p.batch; z += gridDim.z) {
    const StridedMatrix<T> a{p.a + z * p.a_strides[0], p.a_strides[1], p.a_strides[2]};
    const StridedMatrix<T> b{p.b + z * p.b_strides[0], p.b_strides[1], p.b_strides[2]};
    gemm_tile<T>(p.M, p.N, 0, p.K, a, b, RowMajorStore<T>{p.out + z * p.M * p.N, p.N});
  }
}

}  // namespace

void bmm(const Tensor& a, const Tensor& b, const Tensor& out) {
  CXR_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && a.size(0) == b.size(0) && a.size(0) == out.size(0) &&
                a.size(2) == b.size(1) && out.size(1) == a.size(1) && out.size(2) == b.size(2),
            "bmm: expects a (B, M, K), b (B, K, N), out (B, M, N), got a ", shape_str(a.shape()), ", b ",
            shape_str(b.shape()), ", out ", shape_str(out.shape()));
  CXR_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "bmm: dtype mismatch");
  CXR_CHECK(out.numel() == 0 || out.is_contiguous(), "bmm: the CUDA kernel writes a contiguous out, got strides ",
            shape_str(out.strides()));
  const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
  if (B == 0 || M == 0 || N == 0) return;
  if (a.dtype() == DType::Float32) {
    // Float32 runs the kernel study's SGEMM ladder (cuda/kernels/sgemm/): its best version, or the
    // one CXR_CUDA_VERSION_SGEMM names. The ladder reads the same strided views in place.
    SgemmArgs s;
    s.M = M, s.N = N, s.K = K, s.batch = B;
    s.A = {device_data<float>(a), a.stride(1), a.stride(2), a.stride(0)};
    s.B = {device_data<float>(b), b.stride(1), b.stride(2), b.stride(0)};
    s.C = {device_data<float>(out), N, 1, M * N};
    return sgemm(selected_version(sgemm_ladder()), s);
  }
  visit_floating(a.dtype(), "bmm", [&]<typename T>() {
    BmmArgs<T> p{device_data<T>(a), device_data<T>(b), device_data<T>(out), B, M, N, K,
                 {a.stride(0), a.stride(1), a.stride(2)}, {b.stride(0), b.stride(1), b.stride(2)}};
    launch("bmm", bmm_kernel<T>, gemm_grid<T>("bmm", M, N, B), kGemmThreads, p);
  });
}

}  // namespace cxr::cuda
