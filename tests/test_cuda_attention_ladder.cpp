// test_cuda_attention_ladder.cpp — the attention ladder (cuda/kernels/attention/, docs/KERNELS.md): every version's
// forward (O, lse) and backward (dQ, dK, dV) against the float64 reference of bench/cuda/attention.cpp on odd shapes
// (S off the tiles, D 13 and 64, one key), with and without the encoder's padding mask, on contiguous (B, H, S, D)
// operands and on the encoder's (B, S, H, D) projections read in place with padded rows; NaN around every operand
// shows a read or a write outside it; a second run is bit-identical. Then the version choice and the errors.
// Runs on a device (the emulator in make test-cuda-emulated).
#if defined(CXR_HAS_CUDA)

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "bench/cuda/harness.h"
#include "cuda/kernels/attention/attention.h"
#include "cuda_testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Where element (b, h, s, d) lives in a flat buffer.
struct Layout {
  int64_t batch_stride, head_stride, row_stride, size;
};
Layout contiguous(int64_t B, int64_t H, int64_t S, int64_t D) { return {H * S * D, S * D, D, B * H * S * D}; }
// The encoder's projections, (B, S, H, D) viewed as (B, H, S, D), with 3 floats after every row of H D and 5 after
// every batch entry.
Layout encoder(int64_t B, int64_t H, int64_t S, int64_t D) {
  const int64_t rs = H * D + 3, bs = S * rs + 5;
  return {bs, D, rs, B * bs};
}

// One (B, H, S, D) operand in a NaN-filled device buffer, with its host values (B, H, S, D) contiguous.
struct Operand {
  Layout l;
  std::vector<float> values;  // contiguous (B, H, S, D)
  Tensor device;
  int64_t at(int64_t b, int64_t h, int64_t s, int64_t d) const {
    return b * l.batch_stride + h * l.head_stride + s * l.row_stride + d;
  }
};

Operand make_operand(Layout l, int64_t B, int64_t H, int64_t S, int64_t D, Generator* g) {
  Operand o;
  o.l = l;
  std::vector<double> buffer(size_t(l.size + 7), double(kNaN));
  if (g) {
    const Tensor r = randn({B * H * S * D}, {}, g);
    o.values.assign(r.data<float>(), r.data<float>() + r.numel());
    for (int64_t b = 0, n = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t s = 0; s < S; ++s)
          for (int64_t d = 0; d < D; ++d) buffer[size_t(o.at(b, h, s, d))] = o.values[size_t(n++)];
  }
  o.device = from_vector(buffer).to(Device::CUDA);
  return o;
}

template <typename T>
cuda::HeadsRef<T> ref_of(const Operand& o) {
  return {o.device.data<float>(), o.l.batch_stride, o.l.head_stride, o.l.row_stride};
}

struct AttentionCase {
  const char* what;
  int64_t B, H, S, D;
  bool encoder_layout, masked;
};

struct Run {
  std::vector<float> o, lse, dq, dk, dv;  // the raw buffers
};

struct Setup {
  AttentionCase c;
  Operand q, k, v, d_o, o, dq, dk, dv;
  std::vector<float> mask;
  Tensor mask_device, lse, workspace;
  cuda::AttentionArgs args;
};

Setup make_setup(const AttentionCase& c, int version) {
  Setup s{c, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  Generator g(uint64_t(c.B * 131 + c.H * 17 + c.S * 7 + c.D));
  const Layout in = c.encoder_layout ? encoder(c.B, c.H, c.S, c.D) : contiguous(c.B, c.H, c.S, c.D);
  s.q = make_operand(in, c.B, c.H, c.S, c.D, &g);
  s.k = make_operand(in, c.B, c.H, c.S, c.D, &g);
  s.v = make_operand(in, c.B, c.H, c.S, c.D, &g);
  s.d_o = make_operand(in, c.B, c.H, c.S, c.D, &g);
  for (Operand* out : {&s.o, &s.dq, &s.dk, &s.dv}) *out = make_operand(in, c.B, c.H, c.S, c.D, nullptr);
  cuda::AttentionArgs& a = s.args;
  a.batch = c.B, a.heads = c.H, a.seq = c.S, a.head_dim = c.D;
  a.scale = float(1.0 / std::sqrt(double(c.D)));
  if (c.masked) {
    s.mask = bench::attention_key_mask(c.B, c.S);
    s.mask_device = from_vector(std::vector<double>(s.mask.begin(), s.mask.end())).to(Device::CUDA);
    a.key_mask = s.mask_device.data<float>();
  }
  a.q = ref_of<const float>(s.q), a.k = ref_of<const float>(s.k), a.v = ref_of<const float>(s.v);
  a.d_o = ref_of<const float>(s.d_o);
  a.o = ref_of<float>(s.o), a.d_q = ref_of<float>(s.dq), a.d_k = ref_of<float>(s.dk), a.d_v = ref_of<float>(s.dv);
  s.lse = full({c.B * c.H * c.S + 3}, double(kNaN), {.device = Device::CUDA});  // 3 NaNs after it
  a.lse = s.lse.data<float>();
  s.workspace =
      full({int64_t(cuda::attention_workspace_floats(version, a)) + 1}, double(kNaN), {.device = Device::CUDA});
  a.workspace = s.workspace.data<float>();
  return s;
}

std::vector<float> host_floats(const Tensor& t) {
  const Tensor c = t.to(Device::CPU).contiguous();
  return std::vector<float>(c.data<float>(), c.data<float>() + c.numel());
}

Run run_version(Setup& s, int version) {
  cuda::attention_forward(version, s.args);
  cuda::attention_backward(version, s.args);
  return {host_floats(s.o.device), host_floats(s.lse), host_floats(s.dq.device), host_floats(s.dk.device),
          host_floats(s.dv.device)};
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Compares one output (in its buffer, through the operand's layout) with the reference of every (b, h); counts the
// buffer's elements outside the operand that are not NaN any more.
struct Compare {
  int64_t bad = 0, written_outside = 0;
  double max_error = 0, worst_error = 0;
  std::string first_bad, worst;
};

void compare_heads(Compare& r, const char* name, const std::vector<float>& buffer, const Operand& layout,
                   const std::vector<std::vector<double>>& reference, const AttentionCase& c, bench::Tolerance tol) {
  std::vector<bool> inside(buffer.size(), false);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h)
      for (int64_t s = 0; s < c.S; ++s)
        for (int64_t d = 0; d < c.D; ++d) {
          const int64_t i = layout.at(b, h, s, d);
          inside[size_t(i)] = true;
          const double ref = reference[size_t(b * c.H + h)][size_t(s * c.D + d)], got = buffer[size_t(i)];
          const double err = std::abs(got - ref);
          r.max_error = std::max(r.max_error, std::isnan(err) ? INFINITY : err);
          if (err > r.worst_error) r.worst_error = err, r.worst = std::string(name) + " ref " + std::to_string(ref);
          if (!(err <= tol.atol + tol.rtol * std::abs(ref)) && r.bad++ == 0)
            r.first_bad = std::string(name) + "[" + std::to_string(b) + "][" + std::to_string(h) + "][" +
                          std::to_string(s) + "][" + std::to_string(d) + "] = " + std::to_string(got) + " vs " +
                          std::to_string(ref);
        }
  for (size_t i = 0; i < buffer.size(); ++i) r.written_outside += !inside[i] && !std::isnan(buffer[i]);
}

// The float64 reference of every (b, h), each output (S, D) contiguous: o, lse, dq, dk, dv.
std::vector<bench::AttentionReference> references(const Setup& s, bool with_mask) {
  const AttentionCase& c = s.c;
  std::vector<bench::AttentionReference> out;
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) {
      const size_t off = size_t((b * c.H + h) * c.S * c.D);
      out.push_back(bench::attention_reference(
          s.q.values.data() + off, s.k.values.data() + off, s.v.values.data() + off, s.d_o.values.data() + off,
          with_mask && c.masked ? s.mask.data() + b * c.S : nullptr, c.S, c.D, 1.0 / std::sqrt(double(c.D))));
    }
  return out;
}

Compare compare_run(const Run& run, const Setup& s, const std::vector<bench::AttentionReference>& refs,
                    bench::Tolerance tol) {
  const AttentionCase& c = s.c;
  auto pick = [&](std::vector<double> bench::AttentionReference::*field) {
    std::vector<std::vector<double>> v;
    for (const auto& r : refs) v.push_back(r.*field);
    return v;
  };
  Compare r;
  compare_heads(r, "O", run.o, s.o, pick(&bench::AttentionReference::o), c, tol);
  compare_heads(r, "dQ", run.dq, s.dq, pick(&bench::AttentionReference::d_q), c, tol);
  compare_heads(r, "dK", run.dk, s.dk, pick(&bench::AttentionReference::d_k), c, tol);
  compare_heads(r, "dV", run.dv, s.dv, pick(&bench::AttentionReference::d_v), c, tol);
  // lse: (B, H, S) contiguous, as a (B, H, S, 1) operand.
  Operand lse_layout;
  lse_layout.l = {c.H * c.S, c.S, 1, c.B * c.H * c.S};
  AttentionCase one = c;
  one.D = 1;
  compare_heads(r, "lse", run.lse, lse_layout, pick(&bench::AttentionReference::lse), one, tol);
  return r;
}

void check_attention_case(const AttentionCase& c, int version) {
  const cuda::KernelVersion& v = cuda::attention_ladder().version(version);
  INFO("case ", std::string(c.what), " (B ", c.B, ", H ", c.H, ", S ", c.S, ", D ", c.D, "), version ", v.name);
  Setup s = make_setup(c, version);
  const Run first = run_version(s, version);
  const Run second = run_version(s, version);
  CHECK_MESSAGE(same_bits(first.o, second.o), "a second run gave another O");
  CHECK_MESSAGE(same_bits(first.lse, second.lse), "a second run gave another lse");
  CHECK_MESSAGE(same_bits(first.dq, second.dq), "a second run gave another dQ");
  CHECK_MESSAGE(same_bits(first.dk, second.dk), "a second run gave another dK");
  CHECK_MESSAGE(same_bits(first.dv, second.dv), "a second run gave another dV");

  const bench::Tolerance tol = bench::attention_tolerance(v, c.S);
  const std::vector<bench::AttentionReference> refs = references(s, true);
  const Compare r = compare_run(first, s, refs, tol);
  MESSAGE(std::string(c.what), " ", v.name, ": max |error| ", r.max_error, " (atol ", tol.atol, ") at ", r.worst);
  CHECK_MESSAGE(r.bad == 0, r.bad, " elements outside the tolerance; first ", r.first_bad);
  CHECK_MESSAGE(r.written_outside == 0, r.written_outside, " elements written outside the outputs");
  if (c.masked) {
    // The tolerance would catch a kernel that ignored the mask: the unmasked reference is far off.
    const Compare unmasked = compare_run(first, s, references(s, false), tol);
    CHECK_MESSAGE(unmasked.bad > 0, "the masked result is within the tolerance of the unmasked reference");
  }
}

}  // namespace

TEST_CASE(
    "cuda attention: every version of the ladder equals the float64 "
    "reference, forward and backward") {
  if (!cuda_ready()) return;
  const std::vector<AttentionCase> cases = {
      {"one key", 1, 1, 1, 1, false, false},
      {"odd S, padded keys, 3 heads", 2, 3, 37, 64, false, true},
      {"D 13, the encoder's layout with padded rows", 2, 2, 70, 13, true, true},
      {"no mask, S one past a tile", 1, 2, 65, 64, false, false},
      {"several tiles each way, the encoder's layout", 3, 1, 129, 64, true, true},
  };
  for (const cuda::KernelVersion& v : cuda::attention_ladder().versions)
    for (const AttentionCase& c : cases) check_attention_case(c, v.number);
  // v1 takes any head dimension; v2 holds 64.
  check_attention_case({"D 80 (v1 only)", 2, 2, 20, 80, true, true}, 1);
}

TEST_CASE("cuda attention: v1 and v2 agree on the encoder's shape at a small batch") {
  if (!cuda_ready()) return;
  // The encoder's head dimension and a sequence of several tiles, both layouts compared elementwise (the versions sum
  // in different orders: equal within the tolerance, not bit for bit).
  const AttentionCase c{"encoder heads", 2, 4, 96, 64, true, true};
  Setup s1 = make_setup(c, 1), s2 = make_setup(c, 2);
  const Run r1 = run_version(s1, 1), r2 = run_version(s2, 2);
  const bench::Tolerance tol = bench::attention_tolerance(cuda::attention_ladder().version(2), c.S);
  int64_t bad = 0;
  const std::vector<float>* a[5] = {&r1.o, &r1.lse, &r1.dq, &r1.dk, &r1.dv};
  const std::vector<float>* b[5] = {&r2.o, &r2.lse, &r2.dq, &r2.dk, &r2.dv};
  for (int x = 0; x < 5; ++x) {
    REQUIRE(a[x]->size() == b[x]->size());
    for (size_t i = 0; i < a[x]->size(); ++i) {
      const double p = (*a[x])[i], q = (*b[x])[i];
      if (std::isnan(p) && std::isnan(q)) continue;  // outside the operand in both
      bad += !(std::abs(p - q) <= 2 * (tol.atol + tol.rtol * std::abs(p)));
    }
  }
  CHECK(bad == 0);
}

TEST_CASE(
    "cuda attention: CXR_CUDA_VERSION_ATTENTION picks the version, and bad "
    "arguments are errors") {
  const cuda::KernelLadder& ladder = cuda::attention_ladder();
  REQUIRE(ladder.versions.size() == 2);
  CHECK(ladder.best == 2);
  CHECK(cuda::version_variable(ladder) == "CXR_CUDA_VERSION_ATTENTION");
  for (const cuda::KernelVersion& v : ladder.versions) CHECK(v.exact_fp32);
  bool listed = false;
  for (const cuda::KernelLadder* l : cuda::kernel_ladders()) listed = listed || l == &ladder;
  CHECK(listed);
  {
    ScopedEnv one("CXR_CUDA_VERSION_ATTENTION", "1");
    CHECK(cuda::selected_version(ladder) == 1);
  }
  {
    ScopedEnv three("CXR_CUDA_VERSION_ATTENTION", "3");
    CHECK(contains(error_of([&] { cuda::selected_version(ladder); }), "2 (v2_flash)"));
  }
  {
    ScopedEnv unset("CXR_CUDA_VERSION_ATTENTION", std::nullopt);
    CHECK(cuda::selected_version(ladder) == 2);
  }
  if (!cuda_ready()) return;
  Setup s = make_setup({"errors", 1, 1, 8, 64, false, false}, 1);
  CHECK(contains(error_of([&] { cuda::attention_forward(3, s.args); }), "no kernel version 3"));
  CHECK(contains(error_of([&] { cuda::attention_workspace_floats(0, s.args); }), "no kernel version 0"));
  cuda::AttentionArgs wide = s.args;
  wide.head_dim = 65;
  CHECK(contains(error_of([&] { cuda::attention_forward(2, wide); }), "head dimension 65 > 64"));
  cuda::AttentionArgs negative = s.args;
  negative.seq = -1;
  CHECK(contains(error_of([&] { cuda::attention_backward(2, negative); }), "seq=-1"));
  cuda::AttentionArgs no_grad = s.args;
  no_grad.d_q.data = nullptr;
  CHECK(contains(error_of([&] { cuda::attention_backward(2, no_grad); }), "null operand"));
  CHECK_NOTHROW(cuda::attention_forward(2, no_grad));  // the forward needs no gradients
  cuda::AttentionArgs no_workspace = s.args;
  no_workspace.workspace = nullptr;
  CHECK(contains(error_of([&] { cuda::attention_forward(1, no_workspace); }), "needs a workspace"));
  CHECK(contains(error_of([&] { cuda::attention_backward(2, no_workspace); }), "needs a workspace"));
  CHECK_NOTHROW(cuda::attention_forward(2, no_workspace));
  cuda::AttentionArgs empty = s.args;
  empty.seq = 0;
  empty.q.data = nullptr;
  CHECK_NOTHROW(cuda::attention_forward(1, empty));  // nothing to do, nothing launched
}

#endif  // CXR_HAS_CUDA
