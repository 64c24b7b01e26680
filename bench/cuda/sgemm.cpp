// sgemm.cpp — the SGEMM family of cxr-kernels: square problems 1024..8192 and the matmul shapes of
// the models (the text encoder at batch 32 x 320: the QKV/output projections and the FFN), against
// cuBLAS (FP32, no TF32) on the same problem. The reference is the CPU's float64 matmul of the same
// float32 inputs; on problems too large for that (K * M * N > 2^33) it covers 64 sampled rows of C.
// Inputs are uniform in [-1, 1), so every |C| is O(sqrt K).
#include <cmath>

#include "bench/cuda/harness.h"
#include "cuda/kernels/sgemm/sgemm.h"
#include "ops/ops.h"
#include "tensor/random.h"

namespace cxr::bench {
namespace {

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
    if (version == kLibrary) {
      BmmFn* cublas = bmm_kernel.cuda_library();
      CXR_CHECK(cublas != nullptr, "sgemm: this build has no cuBLAS version");
      return cublas(a_.unsqueeze(0), b_.unsqueeze(0), c_.unsqueeze(0));
    }
    cuda::sgemm(version, {M_, N_, K_, a_.data<float>(), K_, b_.data<float>(), N_, c_.data<float>(), N_});
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

Tolerance sgemm_tolerance(const cuda::KernelVersion& v, const Problem& p) {
  const double k = double(p.dims[2]);
  // FP32: the sum of K products rounds at ~K * 2^-24 relative to sum |a b| ~ K/4 in the worst
  // case; a random-walk bound with a 10x margin is ~2e-6 * K. TF32 keeps 10 mantissa bits (2^-11)
  // and BF16 8 (2^-9) per product.
  if (v.exact_fp32) return {2e-6 * k, 1e-4};
  if (v.name.find("bf16") != std::string::npos) return {4e-3 * std::sqrt(k) * 4, 2e-2};
  return {1e-3 * std::sqrt(k) * 4, 1e-2};
}

const FamilyRegistration sgemm_family({"sgemm", "cuBLAS", &cuda::sgemm_ladder(), sgemm_problems,
                                       [](const Problem& p) { return std::make_unique<SgemmCase>(p); },
                                       sgemm_tolerance});

}  // namespace
}  // namespace cxr::bench
