// attention.cpp — scaled_dot_product_attention: forward, named backward, reference CPU kernels.
// Per batch b and head h, with q_i, k_j, v_j the rows (D values) of q, k, v and m_j = key_mask[b, j]:
//   s_ij = scale q_i . k_j + m_j,   lse_i = log sum_j exp(s_ij),   P_ij = exp(s_ij - lse_i)
//   out_i = sum_j P_ij v_j
// Backward, with g_i the gradient of out_i (the softmax's Jacobian folded into one row sum):
//   dV_j = sum_i P_ij g_i,   dP_ij = g_i . v_j,   D_i = sum_j P_ij dP_ij = g_i . out_i
//   dS_ij = P_ij (dP_ij - D_i),   dQ_i = scale sum_j dS_ij k_j,   dK_j = scale sum_i dS_ij q_i
// The same numbers as matmul(softmax(scale q k^T + mask), v) and its backward, in one op that never
// keeps the S x S probabilities: the backward recomputes P from lse. The CPU reference accumulates
// in double; the CUDA kernel is the attention ladder's selected version (cuda/attention.cu).
#include <cmath>
#include <limits>
#include <vector>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "ops/ops.h"

namespace cxr {

namespace {

void check_operands(const char* op, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask) {
  CXR_CHECK(q.dim() == 4 && q.size(3) >= 1, op, ": q must be (B, H, S, D) with D >= 1, got ", shape_str(q.shape()));
  CXR_CHECK(is_floating(q.dtype()), op, ": expects floating q, k, v, got ", dtype_name(q.dtype()));
  for (const Tensor* t : {&k, &v}) {
    CXR_CHECK(t->shape() == q.shape(), op, ": k and v must have q's shape ", shape_str(q.shape()), ", got ",
              shape_str(t->shape()));
    CXR_CHECK(t->dtype() == q.dtype() && t->device() == q.device(), op, ": k and v must be ", dtype_name(q.dtype()),
              " on ", device_name(q.device()), " like q");
  }
  if (!key_mask.defined()) return;
  const Shape mask_shape = {q.size(0), q.size(2)};
  CXR_CHECK(key_mask.shape() == mask_shape, op, ": key_mask must be (B, S) = (", q.size(0), ", ",
            q.size(2), "), got ", shape_str(key_mask.shape()));
  CXR_CHECK(key_mask.dtype() == q.dtype() && key_mask.device() == q.device(), op, ": key_mask must be ",
            dtype_name(q.dtype()), " on ", device_name(q.device()), " like q");
  CXR_CHECK(!key_mask.requires_grad(), op, ": key_mask is a constant (no gradient flows to it)");
}

// Element (b, h, s, d) of a 4-D tensor through its strides.
template <typename T>
struct Heads4 {
  const T* p;
  Strides st;
  T operator()(int64_t b, int64_t h, int64_t s, int64_t d) const {
    return p[b * st[0] + h * st[1] + s * st[2] + d * st[3]];
  }
};

// The scores of query row i of (b, h) against every key, and their logsumexp.
template <typename T>
double scores_row(const Heads4<T>& q, const Heads4<T>& k, const T* mask, double scale, int64_t b, int64_t h,
                  int64_t i, int64_t S, int64_t D, std::vector<double>& s) {
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < S; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < D; ++d) dot += double(q(b, h, i, d)) * double(k(b, h, j, d));
    s[j] = scale * dot + (mask ? double(mask[b * S + j]) : 0.0);
    m = std::max(m, s[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < S; ++j) sum += std::exp(s[j] - m);
  return m + std::log(sum);
}

void attention_forward_cpu(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, double scale,
                           const Tensor& out, const Tensor& lse) {
  visit_floating(q.dtype(), "scaled_dot_product_attention", [&]<typename T>() {
    const int64_t B = q.size(0), H = q.size(1), S = q.size(2), D = q.size(3);
    const Heads4<T> Q{q.data<T>(), q.strides()}, K{k.data<T>(), k.strides()}, V{v.data<T>(), v.strides()};
    const T* mask = key_mask.defined() ? key_mask.data<T>() : nullptr;
    T* po = out.data<T>();
    T* pl = lse.data<T>();
    std::vector<double> s(static_cast<size_t>(S)), o(static_cast<size_t>(D));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < S; ++i) {
          const double l = scores_row(Q, K, mask, scale, b, h, i, S, D, s);
          std::fill(o.begin(), o.end(), 0.0);
          for (int64_t j = 0; j < S; ++j) {
            const double p = std::exp(s[j] - l);
            for (int64_t d = 0; d < D; ++d) o[d] += p * double(V(b, h, j, d));
          }
          const int64_t row = (b * H + h) * S + i;
          pl[row] = T(l);
          for (int64_t d = 0; d < D; ++d) po[row * D + d] = T(o[d]);
        }
  });
}

void attention_backward_cpu(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                            const Tensor& key_mask, double scale, const Tensor& out, const Tensor& lse,
                            const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  visit_floating(q.dtype(), "scaled_dot_product_attention_backward", [&]<typename T>() {
    const int64_t B = q.size(0), H = q.size(1), S = q.size(2), D = q.size(3);
    const Heads4<T> Q{q.data<T>(), q.strides()}, K{k.data<T>(), k.strides()}, V{v.data<T>(), v.strides()},
        G{grad_out.data<T>(), grad_out.strides()};
    const T* mask = key_mask.defined() ? key_mask.data<T>() : nullptr;
    const T* po = out.data<T>();
    const T* pl = lse.data<T>();
    const size_t SD = static_cast<size_t>(S * D);
    std::vector<double> s(static_cast<size_t>(S)), dq(SD), dk(SD), dv(SD);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h) {
        std::fill(dq.begin(), dq.end(), 0.0), std::fill(dk.begin(), dk.end(), 0.0), std::fill(dv.begin(), dv.end(), 0.0);
        for (int64_t i = 0; i < S; ++i) {
          const int64_t row = (b * H + h) * S + i;
          scores_row(Q, K, mask, scale, b, h, i, S, D, s);  // P from the saved lse, as the fused kernels do
          double Di = 0;
          for (int64_t d = 0; d < D; ++d) Di += double(G(b, h, i, d)) * double(po[row * D + d]);
          for (int64_t j = 0; j < S; ++j) {
            const double p = std::exp(s[j] - double(pl[row]));
            double dp = 0;
            for (int64_t d = 0; d < D; ++d) {
              dv[j * D + d] += p * double(G(b, h, i, d));
              dp += double(G(b, h, i, d)) * double(V(b, h, j, d));
            }
            const double ds = p * (dp - Di) * scale;
            for (int64_t d = 0; d < D; ++d) {
              dq[i * D + d] += ds * double(K(b, h, j, d));
              dk[j * D + d] += ds * double(Q(b, h, i, d));
            }
          }
        }
        const int64_t base = (b * H + h) * S * D;
        auto store = [&](const Tensor& t, const std::vector<double>& x) {
          if (!t.defined()) return;
          T* p = t.data<T>() + base;
          for (int64_t e = 0; e < S * D; ++e) p[e] = T(x[e]);
        };
        store(grad_q, dq), store(grad_k, dk), store(grad_v, dv);
      }
  });
}

struct AttentionBackward final : Node {
  double scale;
  explicit AttentionBackward(double s) : scale(s) {}
  const char* name() const override { return "scaled_dot_product_attention_backward"; }
  TensorList backward(const Tensor& g) override {
    const std::array<bool, 3> need = {next_edges[0].node != nullptr, next_edges[1].node != nullptr,
                                      next_edges[2].node != nullptr};
    AttentionGrads r =
        scaled_dot_product_attention_backward(g, saved(0), saved(1), saved(2), saved(3), scale, saved(4), saved(5), need);
    return {r.q, r.k, r.v};
  }
};

}  // namespace

AttentionGrads scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k,
                                                     const Tensor& v, const Tensor& key_mask, double scale,
                                                     const Tensor& out, const Tensor& lse, std::array<bool, 3> need) {
  const OpScope op_scope("scaled_dot_product_attention_backward");
  const char* op = "scaled_dot_product_attention_backward";
  check_operands(op, q, k, v, key_mask);
  CXR_CHECK(grad_out.shape() == q.shape() && grad_out.dtype() == q.dtype() && grad_out.device() == q.device(), op,
            ": the gradient ", dtype_name(grad_out.dtype()), " ", shape_str(grad_out.shape()), " does not match q ",
            dtype_name(q.dtype()), " ", shape_str(q.shape()));
  AttentionGrads r;
  // The CUDA kernels compute the three together; the CPU one skips the ones not needed.
  const bool all = q.device() != Device::CPU;
  if (need[0] || all) r.q = empty(q.shape(), q.options());
  if (need[1] || all) r.k = empty(q.shape(), q.options());
  if (need[2] || all) r.v = empty(q.shape(), q.options());
  const Tensor mask = key_mask.defined() ? contiguous_values(key_mask) : Tensor();
  if (q.numel() > 0)
    attention_backward_kernel(q.device())(grad_out, q, k, v, mask, scale, contiguous_values(out),
                                          contiguous_values(lse), r.q, r.k, r.v);
  if (!need[0]) r.q = Tensor();
  if (!need[1]) r.k = Tensor();
  if (!need[2]) r.v = Tensor();
  return r;
}

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                    double scale) {
  const OpScope op_scope("scaled_dot_product_attention");
  check_operands("scaled_dot_product_attention", q, k, v, key_mask);
  Tensor out = empty(q.shape(), q.options());
  Tensor lse = empty({q.size(0), q.size(1), q.size(2)}, q.options());
  const Tensor mask = key_mask.defined() ? contiguous_values(key_mask) : Tensor();
  if (q.numel() > 0) attention_forward_kernel(q.device())(q, k, v, mask, scale, out, lse);
  record_op<AttentionBackward>(out, {q, k, v}, {q, k, v, key_mask, out, lse}, scale);
  return out;
}

KernelTable<AttentionForwardFn> attention_forward_kernel{"scaled_dot_product_attention", {
    .cpu_reference = attention_forward_cpu,
    .cuda = CXR_CUDA_KERNEL(scaled_dot_product_attention),
}};
KernelTable<AttentionBackwardFn> attention_backward_kernel{"scaled_dot_product_attention_backward", {
    .cpu_reference = attention_backward_cpu,
    .cuda = CXR_CUDA_KERNEL(scaled_dot_product_attention_backward),
}};

}  // namespace cxr
