// test_cuda_kernel_ladders.cpp — the kernel study's ladders (cuda/kernels/, docs/KERNELS.md): the
// choice of a version (CXR_CUDA_VERSION_<OP>, cxr-kernels' --version), every SGEMM version against
// a float64 reference on odd shapes, transposed, padded, misaligned and batched operands (the
// device checks of cxr-kernels use only row-major squares), and the bench's check itself.
// The SGEMM cases run on a device (the emulator in make test-cuda-emulated, CI's emulated build).
#if defined(CXR_HAS_CUDA)

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/sgemm/sgemm.h"
#include "cuda/kernels/versions.h"
#include "cuda_testing.h"
#if defined(CXR_CUDA_EMULATION)
#include "cuda/emulator.h"
#endif

using namespace cxr;
using namespace cxr::testing;

TEST_CASE("cuda kernel ladders: CXR_CUDA_VERSION_SGEMM picks the SGEMM version") {
  const cuda::KernelLadder& ladder = cuda::sgemm_ladder();
  REQUIRE(ladder.versions.size() == 7);
  CHECK(ladder.best == 5);
  CHECK(ladder.version(ladder.best).exact_fp32);  // the backend's default computes in float32
  CHECK_FALSE(ladder.version(6).exact_fp32);
  CHECK_FALSE(ladder.version(7).exact_fp32);
  for (const cuda::KernelVersion& v : ladder.versions) CHECK(v.emulated);  // all WMMA, no inline PTX
  {
    ScopedEnv env("CXR_CUDA_VERSION_SGEMM", std::nullopt);
    CHECK(cuda::selected_version(ladder) == 5);
  }
  {
    ScopedEnv env("CXR_CUDA_VERSION_SGEMM", "");
    CHECK(cuda::selected_version(ladder) == 5);
  }
  for (int n = 1; n <= 7; ++n) {
    ScopedEnv env("CXR_CUDA_VERSION_SGEMM", std::to_string(n));
    CHECK(cuda::selected_version(ladder) == n);
  }
  for (const char* bad : {"0", "8", "-1", "abc", "3x", " "}) {
    ScopedEnv env("CXR_CUDA_VERSION_SGEMM", bad);
    const std::string message = error_of([&] { cuda::selected_version(ladder); });
    INFO("value '", bad, "': ", message);
    CHECK(message.find("CXR_CUDA_VERSION_SGEMM") != std::string::npos);
    CHECK(message.find("1 (v1_naive)") != std::string::npos);
    CHECK(message.find("7 (v7_bf16_wmma)") != std::string::npos);
  }
}

TEST_CASE("cuda kernel ladders: cxr-kernels runs the versions --version or the variable names") {
  const cuda::KernelLadder& ladder = cuda::sgemm_ladder();
  ScopedEnv unset("CXR_CUDA_VERSION_SGEMM", std::nullopt);
  CHECK(bench::versions_to_run(ladder, {}) == std::vector<int>{1, 2, 3, 4, 5, 6, 7});
  CHECK(bench::versions_to_run(ladder, {6, 2}) == std::vector<int>{6, 2});
  const std::string message = error_of([&] { bench::versions_to_run(ladder, {9}); });
  CHECK(message.find("--version 9") != std::string::npos);
  CHECK(message.find("5 (v5_warp_tiled)") != std::string::npos);
  {
    ScopedEnv env("CXR_CUDA_VERSION_SGEMM", "3");
    CHECK(bench::versions_to_run(ladder, {}) == std::vector<int>{3});
    CHECK(bench::versions_to_run(ladder, {4}) == std::vector<int>{4});  // the flag wins
  }
  ScopedEnv env("CXR_CUDA_VERSION_SGEMM", "12");
  CHECK(error_of([&] { bench::versions_to_run(ladder, {}); }).find("CXR_CUDA_VERSION_SGEMM=12") != std::string::npos);
}

TEST_CASE("cuda kernel ladders: the bench's check counts non-finite references and names the first bad element") {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const Tensor reference = from_vector({1.0, nan, 2.0, inf, 3.0, -inf, 4.0}, {7}, {DType::Float64});
  const bench::Tolerance tol{0.01, 0.0};
  {
    // Wherever the reference is not finite, anything goes (it is skipped, and counted).
    const Tensor output = from_vector({1.005, 0.0, 2.0, 7.0, 3.0, nan, 3.995}, {7}, {DType::Float64});
    const bench::CheckResult r = bench::check_against_reference(output, reference, tol);
    CHECK(r.ok);
    CHECK(r.checked == 4);
    CHECK(r.non_finite_reference == 3);
    CHECK(r.bad == 0);
    CHECK(r.max_abs_error == doctest::Approx(0.005).epsilon(1e-6));
    CHECK(r.first_bad.empty());
  }
  {
    // A NaN output where the reference is finite fails, as does an error past atol + rtol |ref|.
    const Tensor output = from_vector({1.0, 0.0, 2.5, 0.0, nan, 0.0, 4.02}, {7}, {DType::Float64});
    const bench::CheckResult r = bench::check_against_reference(output, reference, tol);
    CHECK_FALSE(r.ok);
    CHECK(r.checked == 4);
    CHECK(r.non_finite_reference == 3);
    CHECK(r.bad == 3);
    CHECK(r.first_bad == "index 2: 2.5 vs reference 2");
  }
  {
    // rtol scales with |ref|: 4.02 is within 0.01 + 0.01 * 4.
    const Tensor output = from_vector({1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.02}, {7}, {DType::Float64});
    CHECK(bench::check_against_reference(output, reference, {0.01, 0.01}).ok);
  }
  CHECK(error_of([&] { bench::check_against_reference(zeros({6}, {DType::Float64}), reference, tol); })
            .find("shape") != std::string::npos);
}

namespace {

// One operand of a batched GEMM in a flat device buffer, in a given layout, with its host copy.
// Every buffer element that is not part of the matrix holds a NaN, so that a kernel reading
// outside its operand makes NaNs, and one writing outside C is seen.
struct TestMatrix {
  int64_t rows = 0, cols = 0, batch = 1;
  int64_t row_stride = 0, col_stride = 1, batch_stride = 0, offset = 0;
  std::vector<float> host;
  Tensor device;

  int64_t index(int64_t z, int64_t r, int64_t c) const {
    return offset + z * batch_stride + r * row_stride + c * col_stride;
  }
  float at(int64_t z, int64_t r, int64_t c) const { return host[size_t(index(z, r, c))]; }
  float* device_data() const { return device.data<float>() + offset; }
};

struct Layout {
  bool transposed = false;  // stored column-major: the rows are contiguous
  int64_t pad = 0;          // leading dimension = the contiguous extent + pad
  int64_t offset = 0;       // elements before the first (1: misaligned for float4)
  bool broadcast = false;   // one matrix for every batch entry (batch stride 0)
};

TestMatrix make_matrix(int64_t rows, int64_t cols, int64_t batch, Layout l, Generator* g) {
  TestMatrix m;
  m.rows = rows, m.cols = cols, m.batch = batch, m.offset = l.offset;
  const int64_t ld = (l.transposed ? rows : cols) + l.pad;
  m.row_stride = l.transposed ? 1 : ld;
  m.col_stride = l.transposed ? ld : 1;
  const int64_t per_matrix = (l.transposed ? cols : rows) * ld;
  m.batch_stride = l.broadcast ? 0 : per_matrix;
  const int64_t stored = l.broadcast ? 1 : batch;
  m.host.assign(size_t(l.offset + stored * per_matrix + 3), std::numeric_limits<float>::quiet_NaN());
  const Tensor values = rand({stored * rows * cols}, {}, g);
  const float* v = values.data<float>();
  for (int64_t z = 0, i = 0; z < stored; ++z)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) m.host[size_t(m.index(z, r, c))] = 2 * v[i++] - 1;
  m.device = from_vector(std::vector<double>(m.host.begin(), m.host.end())).to(Device::CUDA);
  return m;
}

struct GemmCase {
  const char* what;
  int64_t M, N, K, batch;
  Layout a, b, c;
};

// C = A B of every version on the device against the float64 product of the same float32
// inputs, within the bench's tolerance for the version (sgemm_tolerance), with every element of
// C's buffer outside C untouched, and a second run bit-identical to the first.
void check_sgemm_case(const GemmCase& t, int version) {
  const cuda::KernelVersion& v = cuda::sgemm_ladder().version(version);
  INFO("case ", std::string(t.what), " (", t.M, "x", t.N, "x", t.K, ", batch ", t.batch, "), version ", v.name);
  Generator g(uint64_t(t.M * 7919 + t.N * 104729 + t.K * 31 + t.batch));
  const TestMatrix A = make_matrix(t.M, t.K, t.batch, t.a, &g), B = make_matrix(t.K, t.N, t.batch, t.b, &g);
  TestMatrix C = make_matrix(t.M, t.N, t.batch, t.c, &g);
  cuda::SgemmArgs args;
  args.M = t.M, args.N = t.N, args.K = t.K, args.batch = t.batch;
  args.A = {A.device_data(), A.row_stride, A.col_stride, A.batch_stride};
  args.B = {B.device_data(), B.row_stride, B.col_stride, B.batch_stride};
  args.C = {C.device_data(), C.row_stride, C.col_stride, C.batch_stride};
  cuda::sgemm(version, args);
  const Tensor first = C.device.to(Device::CPU).clone();
  cuda::sgemm(version, args);
  const Tensor second = C.device.to(Device::CPU);
  CHECK_MESSAGE(bitwise_equal(first, second), "a second run differs");

  const bench::Tolerance tol = bench::sgemm_tolerance(v, t.K);
  const float* out = first.data<float>();
  std::vector<bool> in_c(C.host.size(), false);
  int64_t bad = 0;
  std::string first_bad;
  for (int64_t z = 0; z < t.batch; ++z)
    for (int64_t m = 0; m < t.M; ++m)
      for (int64_t n = 0; n < t.N; ++n) {
        double ref = 0;
        for (int64_t k = 0; k < t.K; ++k) ref += double(A.at(z, m, k)) * double(B.at(z, k, n));
        const int64_t i = C.index(z, m, n);
        in_c[size_t(i)] = true;
        const double got = out[i];
        if (!(std::abs(got - ref) <= tol.atol + tol.rtol * std::abs(ref)) && bad++ == 0)
          first_bad = "C[" + std::to_string(z) + "][" + std::to_string(m) + "][" + std::to_string(n) +
                      "] = " + std::to_string(got) + " vs " + std::to_string(ref);
      }
  CHECK_MESSAGE(bad == 0, bad, " elements outside the tolerance; first ", first_bad);
  int64_t written_outside = 0;
  for (size_t i = 0; i < in_c.size(); ++i) written_outside += !in_c[i] && !std::isnan(out[i]);
  CHECK_MESSAGE(written_outside == 0, written_outside, " elements written outside C");
}

}  // namespace

TEST_CASE("cuda sgemm: every version of the ladder equals the float64 reference") {
  if (!cuda_ready()) return;
  const Layout row_major{}, transposed{.transposed = true};
  const std::vector<GemmCase> cases = {
      {"one element", 1, 1, 1, 1, row_major, row_major, row_major},
      {"odd, partial tiles at every edge", 17, 33, 9, 1, row_major, row_major, row_major},
      {"several blocks, A transposed", 130, 65, 70, 1, transposed, row_major, row_major},
      {"aligned float4 paths, 2 x 1 blocks", 256, 128, 64, 1, row_major, row_major, row_major},
      {"B transposed, padded, misaligned", 129, 131, 37, 1, {.pad = 3}, {.transposed = true, .pad = 1, .offset = 1},
       {.pad = 2, .offset = 1}},
      {"both transposed, float4 along the rows", 64, 48, 40, 1, {.transposed = true, .pad = 4},
       {.transposed = true, .pad = 8}, {.pad = 4}},
      {"batched, B broadcast, C padded", 40, 36, 20, 3, {.pad = 4}, {.broadcast = true}, {.pad = 4}},
      {"C transposed", 33, 20, 16, 2, row_major, row_major, transposed},
      {"K = 0 writes zeros", 5, 7, 0, 1, row_major, row_major, row_major},
  };
  for (const cuda::KernelVersion& v : cuda::sgemm_ladder().versions)
    for (const GemmCase& c : cases) check_sgemm_case(c, v.number);
}

TEST_CASE("cuda sgemm: the backend's float32 matmul runs the ladder's selected version") {
  if (!cuda_ready()) return;
  // Inputs uniform in [-1, 1), as sgemm_tolerance assumes.
  const Tensor a = rand({2, 19, 23}) * 2.0 - 1.0, b = rand({2, 23, 17}) * 2.0 - 1.0;
  const Tensor expected = matmul(a.to(DType::Float64), b.to(DType::Float64));  // CPU, float64
  for (const cuda::KernelVersion& v : cuda::sgemm_ladder().versions) {
    ScopedEnv version("CXR_CUDA_VERSION_SGEMM", std::to_string(v.number));
    const Tensor got = matmul(a.to(Device::CUDA), b.to(Device::CUDA)).to(Device::CPU);
    const bench::Tolerance tol = bench::sgemm_tolerance(v, 23);
    CHECK_MESSAGE(bench::check_against_reference(got.to(DType::Float64), expected, tol).ok,
                  v.name);
  }
  // A version the ladder lacks reaches the backend's matmul as the ladder's own error.
  ScopedEnv bad("CXR_CUDA_VERSION_SGEMM", "99");
  CHECK(contains(error_of([&] { matmul(a.to(Device::CUDA), b.to(Device::CUDA)); }), "CXR_CUDA_VERSION_SGEMM=99"));
}

TEST_CASE("cuda sgemm: bad arguments are errors naming the problem") {
  if (!cuda_ready()) return;
  Tensor buffer = zeros({16}, {.device = Device::CUDA});
  const cuda::SgemmArgs ok = cuda::row_major_sgemm(2, 2, 2, buffer.data<float>(), 2, buffer.data<float>() + 4, 2,
                                                   buffer.data<float>() + 8, 2);
  CHECK(error_of([&] { cuda::sgemm(8, ok); }).find("no kernel version 8") != std::string::npos);
  cuda::SgemmArgs negative = ok;
  negative.K = -1;
  CHECK(error_of([&] { cuda::sgemm(5, negative); }).find("K=-1") != std::string::npos);
  cuda::SgemmArgs null_a = ok;
  null_a.A.data = nullptr;
  CHECK(error_of([&] { cuda::sgemm(5, null_a); }).find("null operand") != std::string::npos);
  cuda::SgemmArgs empty = ok;
  empty.M = 0;
  empty.A.data = nullptr;
  CHECK_NOTHROW(cuda::sgemm(5, empty));  // nothing to do, nothing launched
}

#if defined(CXR_CUDA_EMULATION)
// The emulator's tensor-core subset (cuda/emulator.h), which is what checks v6 and v7 here.
TEST_CASE("cuda emulator: TF32 and BF16 conversions round as the hardware does") {
  using nvcuda::wmma::__float_to_tf32;
  // TF32 keeps 10 mantissa bits, to nearest, ties away from zero (cvt.rna.tf32.f32).
  CHECK(__float_to_tf32(1.0f + 0x1p-11f) == 1.0f + 0x1p-10f);          // a tie goes up in magnitude
  CHECK(__float_to_tf32(-(1.0f + 0x1p-11f)) == -(1.0f + 0x1p-10f));    // ... on either sign
  CHECK(__float_to_tf32(1.0f + 0x1p-11f - 0x1p-23f) == 1.0f);          // below the tie
  CHECK(__float_to_tf32(1.0f + 0x1p-10f + 0x1p-11f) == 1.0f + 0x1p-9f);  // ties away, not to even
  CHECK(std::isinf(__float_to_tf32(std::numeric_limits<float>::max())));
  CHECK(std::isnan(__float_to_tf32(std::numeric_limits<float>::quiet_NaN())));
  CHECK((__float_as_int(__float_to_tf32(0.1f)) & 0x1fff) == 0);
  // BF16 keeps 7 mantissa bits, to nearest, ties to even (cvt.rn.bf16.f32).
  CHECK(__bfloat162float(__float2bfloat16(1.0f + 0x1p-8f)) == 1.0f);                  // tie to even (down)
  CHECK(__bfloat162float(__float2bfloat16(1.0f + 0x1p-7f + 0x1p-8f)) == 1.0f + 0x1p-6f);  // tie to even (up)
  CHECK(__bfloat162float(__float2bfloat16(1.0f + 0x1p-8f + 0x1p-20f)) == 1.0f + 0x1p-7f);
  CHECK(__float2bfloat16(std::numeric_limits<float>::quiet_NaN()).bits == 0x7fff);
  CHECK(std::isinf(__bfloat162float(__float2bfloat16(std::numeric_limits<float>::max()))));
}

TEST_CASE("cuda emulator: wmma is warp-collective, checks alignment and multiplies in the tile's precision") {
  namespace wmma = nvcuda::wmma;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major>;
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  alignas(32) static float a[16 * 8], b[16 * 8], c[16 * 16];
  // b = an integer times (1 + 2^-15): the tensor cores read only its TF32 bits, the integer.
  for (int i = 0; i < 16 * 8; ++i) a[i] = float(i % 7) - 3, b[i] = (float(i % 5) - 2) * (1.0f + 0x1p-15f);
  std::fill(std::begin(c), std::end(c), std::numeric_limits<float>::quiet_NaN());
  float read_early = 0, read_late = 0;
  cxr::emu::launch(dim3(1), dim3(32), "wmma_test", [&] {
    FragA fa;
    FragB fb;
    Acc acc;
    wmma::load_matrix_sync(fa, a, 8);
    wmma::load_matrix_sync(fb, b, 8);  // col_major: element (k, n) at b[n * 8 + k]
    wmma::fill_fragment(acc, 1.0f);
    wmma::mma_sync(acc, fa, fb, acc);
    wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
    if (threadIdx.x == 0) read_early = c[1];  // lane 1's share: not yet stored without a __syncwarp
    __syncwarp();
    if (threadIdx.x == 0) read_late = c[1];
  });
  CHECK(std::isnan(read_early));
  CHECK(read_late == c[1]);
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      float ref = 1.0f;
      for (int k = 0; k < 8; ++k) ref += a[m * 8 + k] * std::round(b[n * 8 + k]);
      CHECK(c[m * 16 + n] == ref);
    }
  const std::string misaligned = error_of([&] {
    cxr::emu::launch(dim3(1), dim3(32), "wmma_misaligned", [&] {
      FragA fa;
      wmma::load_matrix_sync(fa, a + 1, 8);
    });
  });
  CHECK(misaligned.find("256-bit aligned") != std::string::npos);
  const std::string bad_ldm = error_of([&] {
    cxr::emu::launch(dim3(1), dim3(32), "wmma_ldm", [&] {
      Acc acc;
      wmma::fill_fragment(acc, 0.0f);
      wmma::store_matrix_sync(c, acc, 18, wmma::mem_row_major);
    });
  });
  CHECK(bad_ldm.find("ldm 18") != std::string::npos);
  const std::string divergent = error_of([&] {
    cxr::emu::launch(dim3(1), dim3(32), "wmma_divergent", [&] {
      Acc acc;
      if (threadIdx.x < 16) wmma::fill_fragment(acc, 0.0f);
      __syncthreads();
    });
  });
  CHECK(divergent.find("deadlocked") != std::string::npos);
}
#endif  // CXR_CUDA_EMULATION

#endif  // CXR_HAS_CUDA
