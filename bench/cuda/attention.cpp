// attention.cpp — the attention family of cxr-kernels: the text encoder's self-attention (hidden 256, 4 heads: D = 64)
// at batch 32 and sequence 320 and 512, forward + backward in one run, with the encoder's padding: batch entry b keeps
// S - (b % 4) S / 8 keys, the rest masked with -10000 as BertModel does. No library yardstick (cuDNN's fused attention
// is a graph API of its own): "x lib" is measured against our unfused v1 in the same run, the ratio the target
// is stated in. The reference is a float64 loop over the same float32 inputs, for every batch entry on small problems
// (B H S^2 D <= 2^24) and for the first and the last (full and padded) on larger ones.
// Layout: q, k, v, dO, O, dQ, dK, dV (B, H, S, D) contiguous; the mask (B, S).
#include "cuda/kernels/attention/attention.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "bench/cuda/harness.h"
#include "tensor/random.h"

namespace cxr::bench {

AttentionReference attention_reference(const float* q, const float* k, const float* v, const float* d_o,
                                       const float* mask, int64_t S, int64_t D, double scale) {
  AttentionReference r;
  const size_t n = size_t(S * D);
  r.o.assign(n, 0), r.d_q.assign(n, 0), r.d_k.assign(n, 0), r.d_v.assign(n, 0), r.lse.assign(size_t(S), 0);
  std::vector<double> p(static_cast<size_t>(S)), dp(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) {
    // scores_j = scale q_i . k_j + mask_j; P = softmax(scores); lse = log sum exp(scores)
    double mx = -INFINITY;
    for (int64_t j = 0; j < S; ++j) {
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += double(q[i * D + d]) * double(k[j * D + d]);
      p[size_t(j)] = scale * s + (mask ? double(mask[j]) : 0.0);
      mx = std::max(mx, p[size_t(j)]);
    }
    double sum = 0;
    for (int64_t j = 0; j < S; ++j) sum += std::exp(p[size_t(j)] - mx);
    for (int64_t j = 0; j < S; ++j) p[size_t(j)] = std::exp(p[size_t(j)] - mx) / sum;
    r.lse[size_t(i)] = mx + std::log(sum);
    // O_i = sum_j P_ij v_j;  dV_j += P_ij dO_i;  dP_ij = dO_i . v_j
    double row_dot = 0;  // sum_j P_ij dP_ij = dO_i . O_i
    for (int64_t j = 0; j < S; ++j) {
      double dpj = 0;
      for (int64_t d = 0; d < D; ++d) {
        r.o[size_t(i * D + d)] += p[size_t(j)] * double(v[j * D + d]);
        r.d_v[size_t(j * D + d)] += p[size_t(j)] * double(d_o[i * D + d]);
        dpj += double(d_o[i * D + d]) * double(v[j * D + d]);
      }
      dp[size_t(j)] = dpj;
      row_dot += p[size_t(j)] * dpj;
    }
    // dS_ij = P_ij (dP_ij - row_dot);  dQ_i = scale sum_j dS_ij k_j;  dK_j += scale dS_ij q_i
    for (int64_t j = 0; j < S; ++j) {
      const double ds = scale * p[size_t(j)] * (dp[size_t(j)] - row_dot);
      for (int64_t d = 0; d < D; ++d) {
        r.d_q[size_t(i * D + d)] += ds * double(k[j * D + d]);
        r.d_k[size_t(j * D + d)] += ds * double(q[i * D + d]);
      }
    }
  }
  return r;
}

// Inputs N(0, 1) and scale 1/sqrt(D): the scores are ~N(0, 1), |O| <= max |v| (~4), and |dQ|, |dK|, |dV| are at most a
// few. Both versions compute in float32, in different orders. The largest error is the scores': q . k sums D products
// of size ~1 with partial sums up to ~sqrt(D) |q||k|/D, each rounding at u = 2^-24, so a score is off by ~u sqrt(D) (a
// few 1e-7 at D 64, independent of S); P moves by that relative amount and O, dQ, dK, dV by that times their size. On
// top come the sums over up to S keys or queries, whose rounding grows like u sqrt(S). Measured on the tests' shapes
// (S <= 129, tests/test_cuda_attention_ladder.cpp): worst 1.3e-6 (v2's dV at S 65, |dV| 2.2). The tolerance,
// atol 6e-6 sqrt(max(1, S / 128)) + rtol 1e-5, leaves ~5x headroom there and grows with the sums; a real mistake (a
// dropped key or tile, an ignored mask, a missing rescale) moves outputs by ~1e-2 or more, and the tests check that
// an ignored mask and a missing rescale fail.
Tolerance attention_tolerance(const cuda::KernelVersion&, int64_t S) {
  return {6e-6 * std::sqrt(std::max<double>(1, double(S) / 128)), 1e-5};
}

std::vector<float> attention_key_mask(int64_t B, int64_t S) {
  std::vector<float> mask(size_t(B * S), 0.0f);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t keep = std::max<int64_t>(1, S - (b % 4) * S / 8);
    for (int64_t j = keep; j < S; ++j) mask[size_t(b * S + j)] = -10000.0f;
  }
  return mask;
}

namespace {

std::vector<float> normal_floats(int64_t n, Generator& g) {
  std::vector<float> out(static_cast<size_t>(n));
  const uint64_t first = g.reserve(uint64_t(n));
  for (int64_t i = 0; i < n; ++i) out[size_t(i)] = float(g.normal(first + uint64_t(i)));
  return out;
}

Tensor device_copy(const std::vector<float>& host) {
  return from_vector(std::vector<double>(host.begin(), host.end())).to(Device::CUDA);
}

class AttentionCase : public Case {
 public:
  explicit AttentionCase(const Problem& p) : B_(p.dims[0]), H_(p.dims[1]), S_(p.dims[2]), D_(p.dims[3]) {
    Generator g(uint64_t(B_ * 1000003 + H_ * 10007 + S_ * 101 + D_));
    const int64_t n = B_ * H_ * S_ * D_;
    q_ = normal_floats(n, g), k_ = normal_floats(n, g), v_ = normal_floats(n, g), d_o_ = normal_floats(n, g);
    mask_ = attention_key_mask(B_, S_);
    dq_ = device_copy(q_), dk_ = device_copy(k_), dv_ = device_copy(v_), ddo_ = device_copy(d_o_);
    dmask_ = device_copy(mask_);
    for (Tensor* t : {&o_, &grad_q_, &grad_k_, &grad_v_}) *t = empty({B_, H_, S_, D_}, {.device = Device::CUDA});
    lse_ = empty({B_, H_, S_}, {.device = Device::CUDA});
    // The reference covers every batch entry of a small problem, else the first and the last.
    if (double(B_ * H_) * double(S_) * double(S_) * double(D_) <= std::ldexp(1.0, 24)) {
      for (int64_t b = 0; b < B_; ++b) sampled_.push_back(b);
    } else {
      sampled_ = {0, B_ - 1};
    }
    std::vector<double> ref;
    std::vector<std::vector<double>> parts(5);
    for (int64_t b : sampled_)
      for (int64_t h = 0; h < H_; ++h) {
        const size_t off = size_t((b * H_ + h) * S_ * D_);
        const AttentionReference r =
            attention_reference(q_.data() + off, k_.data() + off, v_.data() + off, d_o_.data() + off,
                                mask_.data() + b * S_, S_, D_, 1.0 / std::sqrt(double(D_)));
        const std::vector<double>* each[5] = {&r.o, &r.lse, &r.d_q, &r.d_k, &r.d_v};
        for (int x = 0; x < 5; ++x) parts[size_t(x)].insert(parts[size_t(x)].end(), each[x]->begin(), each[x]->end());
      }
    for (const auto& part : parts) ref.insert(ref.end(), part.begin(), part.end());
    reference_ = from_vector(ref, {int64_t(ref.size())}, {.dtype = DType::Float64});
  }

  void run(int version) override {
    const size_t need = cuda::attention_workspace_floats(version, args(nullptr));
    if (!workspace_.defined() || size_t(workspace_.numel()) < need)
      workspace_ = empty({int64_t(std::max<size_t>(need, 1))}, {.device = Device::CUDA});
    const cuda::AttentionArgs a = args(workspace_.data<float>());
    cuda::attention_forward(version, a);
    cuda::attention_backward(version, a);
  }

  // O, lse, dQ, dK, dV of the sampled batch entries, one after another (the reference's order).
  Tensor output() const override {
    std::vector<double> out;
    for (const Tensor* t : {&o_, &lse_, &grad_q_, &grad_k_, &grad_v_}) {
      const std::vector<double> all = t->to_vector();
      const size_t per_batch = all.size() / size_t(B_);
      for (int64_t b : sampled_)
        out.insert(out.end(), all.begin() + ptrdiff_t(size_t(b) * per_batch),
                   all.begin() + ptrdiff_t(size_t(b + 1) * per_batch));
    }
    return from_vector(out, {int64_t(out.size())}, {.dtype = DType::Float64});
  }
  const Tensor& reference() const override { return reference_; }

 private:
  cuda::AttentionArgs args(float* workspace) const {
    cuda::AttentionArgs a;
    a.batch = B_, a.heads = H_, a.seq = S_, a.head_dim = D_;
    a.scale = float(1.0 / std::sqrt(double(D_)));
    a.key_mask = dmask_.data<float>();
    a.q = cuda::contiguous_heads<const float>(dq_.data<float>(), H_, S_, D_);
    a.k = cuda::contiguous_heads<const float>(dk_.data<float>(), H_, S_, D_);
    a.v = cuda::contiguous_heads<const float>(dv_.data<float>(), H_, S_, D_);
    a.d_o = cuda::contiguous_heads<const float>(ddo_.data<float>(), H_, S_, D_);
    a.o = cuda::contiguous_heads(o_.data<float>(), H_, S_, D_);
    a.d_q = cuda::contiguous_heads(grad_q_.data<float>(), H_, S_, D_);
    a.d_k = cuda::contiguous_heads(grad_k_.data<float>(), H_, S_, D_);
    a.d_v = cuda::contiguous_heads(grad_v_.data<float>(), H_, S_, D_);
    a.lse = lse_.data<float>();
    a.workspace = workspace;
    return a;
  }

  int64_t B_, H_, S_, D_;
  std::vector<float> q_, k_, v_, d_o_, mask_;
  Tensor dq_, dk_, dv_, ddo_, dmask_, o_, lse_, grad_q_, grad_k_, grad_v_, workspace_, reference_;
  std::vector<int64_t> sampled_;
};

Problem attention_problem(const std::string& label, int64_t B, int64_t H, int64_t S, int64_t D) {
  Problem p;
  p.label =
      label + " B" + std::to_string(B) + " H" + std::to_string(H) + " S" + std::to_string(S) + " D" + std::to_string(D);
  // The algorithm's flops, forward + backward: 4 S^2 D + 8 S^2 D per head (the five GEMMs of v1; v2 executes 18 S^2 D,
  // recomputing P, so its GFLOP/s here is the useful rate).
  p.flops = 12.0 * double(B * H) * double(S) * double(S) * double(D);
  // Compulsory: q, k, v, dO read, O and lse written then read, dQ, dK, dV written.
  p.bytes = 4.0 * double(B * H * S) * double(10 * D + 2);
  p.dims = {B, H, S, D};
  return p;
}

std::vector<Problem> attention_problems(bool quick) {
  if (quick)  // partial tiles, padded keys, a head dimension below the tile's
              // (and odd), several heads
    return {attention_problem("odd", 2, 3, 37, 64), attention_problem("odd D", 1, 2, 70, 13),
            attention_problem("blocks", 3, 1, 129, 64),
            attention_problem("sampled reference", 6, 2, 160, 64)};  // > 2^24: the reference covers b 0 and 5
  return {attention_problem("encoder", 32, 4, 320, 64), attention_problem("encoder", 32, 4, 512, 64)};
}

const FamilyRegistration attention_family = [] {
  Family f;
  f.op = "attention";
  f.library = "";  // none: x lib is against v1
  f.ladder = &cuda::attention_ladder();
  f.problems = attention_problems;
  f.make = [](const Problem& p) { return std::make_unique<AttentionCase>(p); };
  f.tolerance = [](const cuda::KernelVersion& v, const Problem& p) { return attention_tolerance(v, p.dims[2]); };
  f.baseline_version = 1;
  return FamilyRegistration(std::move(f));
}();

}  // namespace
}  // namespace cxr::bench
