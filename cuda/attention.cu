// attention.cu — the backend's scaled_dot_product_attention (ops/attention.cpp has the op and the math):
// float32 through the attention ladder's selected version (cuda/kernels/attention/, docs/KERNELS.md;
// CXR_CUDA_VERSION_ATTENTION, v2_flash by default), v1_unfused where v2 cannot run (head dim D > 64).
// Float64 has no CUDA kernel here (the encoder uses the composite path for it): an error naming the op.
// The ladder reads q, k, v and grad_out through batch, head and row strides with d contiguous; a tensor
// laid out otherwise is copied first. The op keeps only out and lse between the passes; v1's backward
// wants its forward's S x S probabilities in the workspace, so for v1 the backward reruns v1's forward
// into its own workspace (and scratch out / lse) first. Same contract as the CPU reference, which
// accumulates in double: results differ from it by float32 rounding (tests/test_cuda_attention_op.cpp).
#include "cuda/common.cuh"
#include "cuda/kernels.h"
#include "cuda/kernels/attention/attention.h"

namespace cxr::cuda {
namespace {

// The ladder's view of a (B, H, S, D) tensor; `keep` holds a contiguous copy when d is strided.
template <typename T>
HeadsRef<T> heads_of(const Tensor& t, Tensor& keep) {
  keep = t.stride(3) == 1 ? t : contiguous_values(t);
  return {device_data<float>(keep), keep.stride(0), keep.stride(1), keep.stride(2)};
}

void check_float32(const char* op, const Tensor& q) {
  CXR_CHECK(q.dtype() == DType::Float32, op, " on CUDA: float32 only (the attention ladder), got ",
            dtype_name(q.dtype()), "; float64 runs on the CPU");
}

struct Prepared {
  AttentionArgs args;
  int version = 2;
  Tensor keep[4];
};

Prepared prepare(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask, double scale) {
  Prepared p;
  AttentionArgs& a = p.args;
  a.batch = q.size(0), a.heads = q.size(1), a.seq = q.size(2), a.head_dim = q.size(3);
  a.scale = float(scale);
  a.key_mask = key_mask.defined() ? device_data<float>(key_mask) : nullptr;
  a.q = heads_of<const float>(q, p.keep[0]);
  a.k = heads_of<const float>(k, p.keep[1]);
  a.v = heads_of<const float>(v, p.keep[2]);
  p.version = selected_version(attention_ladder());
  if (p.version == 2 && a.head_dim > 64) p.version = 1;
  return p;
}

Tensor workspace(int version, const AttentionArgs& a) {
  return empty({int64_t(attention_workspace_floats(version, a))}, {DType::Float32, Device::CUDA, false});
}

}  // namespace

void scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                  double scale, const Tensor& out, const Tensor& lse) {
  check_float32("scaled_dot_product_attention", q);
  Prepared p = prepare(q, k, v, key_mask, scale);
  p.args.o = contiguous_heads(device_data<float>(out), p.args.heads, p.args.seq, p.args.head_dim);
  p.args.lse = device_data<float>(lse);
  const Tensor ws = workspace(p.version, p.args);
  p.args.workspace = ws.numel() > 0 ? ws.data<float>() : nullptr;
  attention_forward(p.version, p.args);
}

void scaled_dot_product_attention_backward(const Tensor& grad_out, const Tensor& q, const Tensor& k, const Tensor& v,
                                           const Tensor& key_mask, double scale, const Tensor& out, const Tensor& lse,
                                           const Tensor& grad_q, const Tensor& grad_k, const Tensor& grad_v) {
  check_float32("scaled_dot_product_attention_backward", q);
  CXR_CHECK(grad_q.defined() && grad_k.defined() && grad_v.defined(),
            "scaled_dot_product_attention_backward on CUDA: computes the three gradients together");
  Prepared p = prepare(q, k, v, key_mask, scale);
  AttentionArgs& a = p.args;
  const int64_t H = a.heads, S = a.seq, D = a.head_dim;
  a.d_o = heads_of<const float>(grad_out, p.keep[3]);
  a.d_q = contiguous_heads(device_data<float>(grad_q), H, S, D);
  a.d_k = contiguous_heads(device_data<float>(grad_k), H, S, D);
  a.d_v = contiguous_heads(device_data<float>(grad_v), H, S, D);
  const Tensor ws = workspace(p.version, a);
  a.workspace = ws.data<float>();
  Tensor scratch_out, scratch_lse;
  if (p.version == 1) {  // v1's backward reads the probabilities its forward left in the workspace
    scratch_out = empty(out.shape(), out.options());
    scratch_lse = empty(lse.shape(), lse.options());
    a.o = contiguous_heads(scratch_out.data<float>(), H, S, D);
    a.lse = scratch_lse.data<float>();
    attention_forward(1, a);
  } else {
    a.o = contiguous_heads(device_data<float>(out), H, S, D);
    a.lse = device_data<float>(lse);
  }
  attention_backward(p.version, a);
}

}  // namespace cxr::cuda
