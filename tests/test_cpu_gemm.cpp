// test_cpu_gemm.cpp — the packed GEMM (tensor/cpu/gemm.h) and matmul's fast kernel bmm_fast
// against the reference bmm kernel: random and odd shapes (edge tiles, several K, M and N blocks),
// transposed / strided / offset operands, float32 and float64, every instruction set the machine
// has, 1 and 2 threads; the 1- and 2-thread results must be bit-identical.
#include "cpu_testing.h"
#include "tensor/cpu/gemm.h"
#include "tensor/cpu/kernels.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

// The rounding error bound of a float sum of K products, accumulated in any order:
// |fl(sum) - sum| <= gamma_K sum |a b| with gamma_K ~ K u; doubled for margin. A wrong kernel
// (a dropped, repeated or misplaced term) is off by about one term, far more for K > 2.
Tensor gemm_bound(const Tensor& a, const Tensor& b, int64_t K, DType dtype) {
  ScopedCpuKernels ref(CpuKernels::Reference);
  Tensor abs_ab = empty({a.size(0), a.size(1), b.size(2)}, {.dtype = dtype});
  bmm_kernel.cpu_reference()(abs(a), abs(b), abs_ab);
  return abs_ab * (2.0 * double(std::max<int64_t>(K, 1)) * unit_roundoff(dtype)) + 1e-30;
}

struct BmmShape {
  int64_t batch, M, N, K;
};

std::vector<BmmShape> bmm_shapes() {
  std::vector<BmmShape> shapes = {
      {1, 1, 1, 1},      {1, 3, 5, 7},       {2, 13, 17, 19}, {3, 31, 33, 65},  // tiny; batch-parallel
      {1, 67, 130, 257}, {1, 257, 255, 300},                                    // K > KC: several k blocks
      {1, 250, 600, 40}, {1, 8, 1100, 9},                                       // M > MC, N > NC; conv-like
      {4, 1, 64, 9},     {2, 40, 1, 33},                                        // a row, a column
      {1, 4, 5, 0},                                                             // K = 0: zeros
  };
  Generator g(77);  // and a few random ones
  for (int i = 0; i < 4; ++i)
    shapes.push_back({g.integer(4 * i, 1, 4), g.integer(4 * i + 1, 1, 300), g.integer(4 * i + 2, 1, 300),
                      g.integer(4 * i + 3, 1, 300)});
  return shapes;
}

}  // namespace

TEST_CASE("bmm_fast matches the reference bmm: shapes, layouts, dtypes, instruction sets, threads") {
  const std::pair<Layout, Layout> layouts[] = {
      {Layout::Contiguous, Layout::Contiguous}, {Layout::Transposed, Layout::Contiguous},
      {Layout::Contiguous, Layout::Transposed}, {Layout::Transposed, Layout::Transposed},
      {Layout::Strided, Layout::Offset},        {Layout::Offset, Layout::Strided}};
  uint64_t seed = 1000;
  for (DType dtype : {DType::Float32, DType::Float64}) {
    for (const BmmShape& s : bmm_shapes()) {
      for (auto [la, lb] : layouts) {
        const std::string what = detail::concat(dtype_name(dtype), " [", s.batch, ", ", s.M, ", ", s.N, ", ", s.K,
                                                "] a ", layout_name(la), ", b ", layout_name(lb));
        Tensor a = random_tensor({s.batch, s.M, s.K}, dtype, ++seed, la);
        Tensor b = random_tensor({s.batch, s.K, s.N}, dtype, ++seed, lb);
        Tensor expected = empty({s.batch, s.M, s.N}, {.dtype = dtype});
        bmm_kernel.cpu_reference()(a, b, expected);
        const Tensor bound = gemm_bound(a, b, s.K, dtype);
        for (cpu::Isa isa : {cpu::Isa::Generic, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
          if (isa > cpu::detected_isa()) continue;
          Tensor one = full({s.batch, s.M, s.N}, 12345.0, {.dtype = dtype});  // the kernel overwrites all
          Tensor two = full({s.batch, s.M, s.N}, -5.0, {.dtype = dtype});
          {
            ScopedCpuConfig c({isa, 1});
            bmm_kernel.cpu_fast()(a, b, one);
          }
          {
            ScopedCpuConfig c({isa, 2});
            bmm_kernel.cpu_fast()(a, b, two);
          }
          check_within(one, expected, bound, what + ", " + cpu::isa_name(isa));
          check_identical(one, two, what + ", " + cpu::isa_name(isa) + ": 1 vs 2 threads");
        }
      }
    }
  }
}

TEST_CASE("gemm accumulates into C when asked, and writes only its block") {
  for (const CpuConfig& config : cpu_configs()) {
    ScopedCpuConfig scoped(config);
    const int64_t M = 70, N = 90, K = 300, ldc = 100;
    Tensor a = random_tensor({M, K}, DType::Float32, 1), b = random_tensor({K, N}, DType::Float32, 2);
    Tensor c0 = random_tensor({M, ldc}, DType::Float32, 3);
    Tensor c = c0.clone();
    cpu::gemm(M, N, K, {a.data<float>(), K, 1}, {b.data<float>(), N, 1}, c.data<float>(), ldc, true);
    Tensor expected = empty({1, M, N});
    {
      ScopedCpuKernels ref(CpuKernels::Reference);
      bmm_kernel.cpu_reference()(a.unsqueeze(0), b.unsqueeze(0), expected);
      expected = expected.squeeze(0) + c0.narrow(1, 0, N);
    }
    Tensor bound =
        gemm_bound(a.unsqueeze(0), b.unsqueeze(0), K, DType::Float32).squeeze(0) + abs(c0.narrow(1, 0, N)) * 1e-6;
    check_within(c.narrow(1, 0, N), expected, bound, config.name() + ": C += A B");
    check_identical(c.narrow(1, N, ldc - N), c0.narrow(1, N, ldc - N), config.name() + ": columns past N untouched");
  }
}

TEST_CASE("CXR_KERNELS switch: matmul runs the reference or the fast kernel, and results agree") {
  Tensor a = random_tensor({37, 300}, DType::Float32, 5), b = random_tensor({300, 41}, DType::Float32, 6);
  Tensor ref_out = empty({1, 37, 41}), fast_out = empty({1, 37, 41});
  bmm_kernel.cpu_reference()(a.unsqueeze(0), b.unsqueeze(0), ref_out);
  bmm_kernel.cpu_fast()(a.unsqueeze(0), b.unsqueeze(0), fast_out);
  {
    ScopedCpuKernels k(CpuKernels::Reference);
    CHECK(std::string(cpu_kernels_name(cpu_kernels())) == "reference");
    check_identical(matmul(a, b), ref_out.squeeze(0), "reference mode runs bmm_cpu");
  }
  {
    ScopedCpuKernels k(CpuKernels::Fast);
    CHECK(std::string(cpu_kernels_name(cpu_kernels())) == "fast");
    check_identical(matmul(a, b), fast_out.squeeze(0), "fast mode runs bmm_fast");
  }
  CHECK((bmm_kernel.get(Device::CPU) != nullptr));
}

TEST_CASE("parallel_for covers its range exactly once, and nested calls run inline") {
  for (int threads : {1, 2, 3, 8}) {
    cpu::set_num_threads(threads);
    std::vector<int> hits(1000, 0);
    cpu::parallel_for(1000, 7, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) ++hits[i];
      cpu::parallel_for(3, 1, [&](int64_t, int64_t) { CHECK(cpu::in_parallel_region() == (threads > 1)); });
    });
    CHECK(std::count(hits.begin(), hits.end(), 1) == 1000);
  }
  cpu::set_num_threads(0);
  CHECK(cpu::num_threads() == cpu::default_num_threads());
  // An exception in a chunk reaches the caller.
  cpu::set_num_threads(2);
  CHECK_THROWS_WITH(cpu::parallel_for(100, 1,
                                      [](int64_t b, int64_t) {
                                        if (b > 50) fail("chunk failed");
                                      }),
                    "chunk failed");
  cpu::set_num_threads(0);
}
