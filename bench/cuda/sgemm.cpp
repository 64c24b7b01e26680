// sgemm.cpp — the SGEMM family of cxr-kernels: square problems 1024..8192 and the matmul shapes of
// the models (the text encoder at batch 32 x 320: the QKV/output projections and the FFN), against
// cuBLAS on the same problem in the same precision: FP32 (no TF32) for v1..v5, TF32 for v6, BF16
// for v7 (cublas_sgemm, cuda/kernels/sgemm/sgemm.h). The reference is the CPU's float64 matmul of
// the same float32 inputs; on problems too large for that (K * M * N > 2^33) it covers 64 sampled
// rows of C.
// Inputs are uniform in [-1, 1), so every |C| is O(sqrt K).
#include <cmath>
#include <string>

#include "bench/cuda/harness.h"
#include "cuda/kernels/sgemm/sgemm.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::bench {
namespace {

// The library slots besides kLibrary (cuBLAS FP32): cuBLAS on the tensor cores, the yardsticks of
// v6 (TF32) and v7 (BF16).
constexpr int kCublasTf32 = -1, kCublasBf16 = -2;

class SgemmCase : public Case {
 public:
  explicit SgemmCase(const Problem& p) : M_(p.dims[0]), N_(p.dims[1]), K_(p.dims[2]) {
    Generator g(M_ * 1000003 + N_ * 1009 + K_);
    const Tensor a = rand({M_, K_}, {}, &g) * 2.0 - 1.0, b = rand({K_, N_}, {}, &g) * 2.0 - 1.0;
    a_ = a.to(Device::CUDA);
    b_ = b.to(Device::CUDA);
    c_ = empty({M_, N_}, {.device = Device::CUDA});
    if (double(M_) * double(N_) * double(K_) <= std::ldexp(1.0, 33)) {
      reference_ = matmul(a.to(DType::Float64), b.to(DType::Float64));
    } else {
      Generator rows_gen(7);
      rows_ = randint(0, M_, {64}, {.dtype = DType::Int64}, &rows_gen);
      reference_ = matmul(index_select(a, 0, rows_).to(DType::Float64), b.to(DType::Float64));
    }
  }
  void run(int version) override {
    const cuda::SgemmArgs args =
        cuda::row_major_sgemm(M_, N_, K_, a_.data<float>(), K_, b_.data<float>(), N_, c_.data<float>(), N_);
    if (version == kLibrary) return cuda::cublas_sgemm(cuda::LibraryMath::Fp32, args);
    if (version == kCublasTf32) return cuda::cublas_sgemm(cuda::LibraryMath::Tf32, args);
    if (version == kCublasBf16) return cuda::cublas_sgemm(cuda::LibraryMath::Bf16, args);
    cuda::sgemm(version, args);
  }
  Tensor output() const override {
    return rows_.defined() ? index_select(c_, 0, rows_.to(Device::CUDA)) : c_;
  }
  const Tensor& reference() const override { return reference_; }

 private:
  int64_t M_, N_, K_;
  Tensor a_, b_, c_, rows_, reference_;
};

Problem gemm_problem(const std::string& label, int64_t M, int64_t N, int64_t K) {
  Problem p;
  p.label = label + " " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K);
  p.flops = 2.0 * double(M) * double(N) * double(K);
  p.bytes = 4.0 * double(M * K + K * N + M * N);
  p.dims = {M, N, K};
  return p;
}

std::vector<Problem> sgemm_problems(bool quick) {
  if (quick)  // partial tiles on every edge, and one case of several blocks
    return {gemm_problem("odd", 17, 33, 9), gemm_problem("odd", 130, 65, 70), gemm_problem("square", 256, 256, 256)};
  std::vector<Problem> out;
  for (int64_t n : {1024, 2048, 4096, 8192}) out.push_back(gemm_problem("square", n, n, n));
  // The encoder (hidden 256, FFN 1024) at batch 32 x 320: M = 10240 token rows.
  out.push_back(gemm_problem("encoder qkv/out proj", 10240, 256, 256));
  out.push_back(gemm_problem("encoder ffn up", 10240, 1024, 256));
  out.push_back(gemm_problem("encoder ffn down", 10240, 256, 1024));
  return out;
}

}  // namespace

// With a, b uniform in [-1, 1): |a b| has RMS 1/3 and |C| ~ sqrt(K)/3. Per version:
//   FP32 (v1..v5, cuBLAS): the only error is float32 accumulation, each step rounding at
//     u = 2^-24 relative to a partial sum of RMS sqrt(k)/3: a random walk of RMS ~0.24 u K =
//     1.4e-8 K. atol 4e-7 K is ~28 of those sigma (the worst of 67M elements is ~6 sigma), yet
//     below a single dropped product of a typical size at every K here.
//   TF32 (v6): each input rounded to 11 significant bits (u = 2^-11, RMS u/sqrt 3 relative), so
//     each product errs by RMS ~sqrt(2/3) u / 3 and the sum by sqrt(K) times that: 1.3e-4 sqrt K.
//     atol 1.5e-3 sqrt K: ~11 sigma.
//   BF16 (v7): 8 significant bits (u = 2^-8): 1.06e-3 sqrt K by the same count; atol 1.2e-2 sqrt K.
//   rtol 1e-5 covers the final rounding of C to float32 (u |C|) where K is small.
Tolerance sgemm_tolerance(const cuda::KernelVersion& v, int64_t K) {
  const double k = double(K);
  if (v.exact_fp32) return {4e-7 * k, 1e-5};
  if (v.name.find("bf16") != std::string::npos) return {1.2e-2 * std::sqrt(k), 1e-5};
  return {1.5e-3 * std::sqrt(k), 1e-5};
}

namespace {

int sgemm_library_for(const cuda::KernelVersion& v) {
  if (v.exact_fp32) return kLibrary;
  return v.name.find("bf16") != std::string::npos ? kCublasBf16 : kCublasTf32;
}

const FamilyRegistration sgemm_family({"sgemm", "cuBLAS", &cuda::sgemm_ladder(), sgemm_problems,
                                       [](const Problem& p) { return std::make_unique<SgemmCase>(p); },
                                       [](const cuda::KernelVersion& v, const Problem& p) {
                                         return sgemm_tolerance(v, p.dims[2]);
                                       },
                                       {{kCublasTf32, "cuBLAS tf32", false}, {kCublasBf16, "cuBLAS bf16", false}},
                                       sgemm_library_for});

}  // namespace
}  // namespace cxr::bench
