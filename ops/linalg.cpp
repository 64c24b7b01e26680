// linalg.cpp — matmul (torch.matmul semantics) on one batched-GEMM kernel, bmm_kernel.
// Shapes: a (..., M, K) · b (..., K, N) -> (..., M, N), the leading (batch) dims broadcast; a 1-D a
// is promoted to (1, K) and a 1-D b to (K, 1), and the added dim is removed from the result.
// Math: out[i,j] = sum_k a[i,k] b[k,j], so d out[i,j] / d a[i,k] = b[k,j] and d out[i,j] / d b[k,j]
// = a[i,k]; contracting with g gives ga = g b^T and gb = a^T g (see matmul_backward below).
#include "autograd/node.h"
#include "cuda/kernels.h"
#include "tensor/cpu/kernels.h"
#include "ops/ops.h"

namespace cxr {

// ---- shape helpers ----
// The "promoted" matrices of torch.matmul: a 1-D left operand (K) is the row (1, K), a 1-D right
// operand (K) is the column (K, 1). Views, no copies.
static Tensor promote_lhs(const Tensor& a) { return a.dim() == 1 ? a.unsqueeze(0) : a; }
static Tensor promote_rhs(const Tensor& b) { return b.dim() == 1 ? b.unsqueeze(1) : b; }

static Shape batch_dims(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

static Shape concat(Shape s, std::initializer_list<int64_t> tail) {
  s.insert(s.end(), tail);
  return s;
}

// The product of two (promoted, >= 2-D) operands x (bx..., M, K) and y (by..., K, N) -> (batch..., M, N)
// with batch = broadcast(bx, by). Not recorded by autograd: matmul and matmul_backward call it on
// detached tensors. Operands reach the kernel as strided views; the only copies are those a
// reshape cannot avoid when merging broadcast batch dims into one (as in PyTorch).
static Tensor batched_product(const Tensor& x, const Tensor& y) {
  const int64_t M = x.size(-2), K = x.size(-1), N = y.size(-1);
  const Shape batch = broadcast_shapes(batch_dims(x), batch_dims(y), "matmul");
  const int64_t B = shape_numel(batch);
  Tensor out = empty({B, M, N}, x.options());
  if (y.dim() == 2) {
    // Folding: with one right-hand matrix, x's batch and row dims are the rows of a single GEMM,
    // (B*M, K) · (K, N). A reshape view when x's rows are evenly strided, else one copy.
    bmm_kernel(x.device())(x.reshape({1, B * M, K}), y.unsqueeze(0), out.view({1, B * M, N}));
  } else {
    Tensor x3 = x.expand(concat(batch, {M, K})).reshape({B, M, K});
    Tensor y3 = y.expand(concat(batch, {K, N})).reshape({B, K, N});
    bmm_kernel(x.device())(x3, y3, out);
  }
  return out.view(concat(batch, {M, N}));
}

// matmul's output shape: the batch dims, then M unless a was 1-D, then N unless b was 1-D.
static Shape matmul_shape(const Tensor& a2, const Tensor& b2, bool a_vector, bool b_vector) {
  Shape s = broadcast_shapes(batch_dims(a2), batch_dims(b2), "matmul");
  if (!a_vector) s.push_back(a2.size(-2));
  if (!b_vector) s.push_back(b2.size(-1));
  return s;
}

// ---- matmul ----
// matmul_backward: out = a b (per batch element)
//   ga = g b^T   (sum_j g[i,j] b[k,j]),   gb = a^T g   (sum_i a[i,k] g[i,j]),
// each summed over the batch dims its input was broadcast along (sum_to), then reshaped back to the
// input's shape (dropping a 1-D operand's promoted dim). Activation gradients are assigned here;
// leaves accumulate in the engine (AccumulateGrad).
MatmulGrads matmul_backward(const Tensor& grad_out, const Tensor& a_in, const Tensor& b_in, bool need_a,
                            bool need_b) {
  const OpScope op_scope("matmul_backward");
  NoGradGuard no_grad;  // the backward's own ops are not recorded (no double backward yet)
  Tensor a = a_in.detach(), b = b_in.detach();
  Tensor a2 = promote_lhs(a), b2 = promote_rhs(b);
  const int64_t M = a2.size(-2), K = a2.size(-1), N = b2.size(-1);
  const Shape batch = broadcast_shapes(batch_dims(a2), batch_dims(b2), "matmul_backward");
  Shape g_shape = matmul_shape(a2, b2, a.dim() == 1, b.dim() == 1);
  CXR_CHECK(grad_out.shape() == g_shape, "matmul_backward: gradient of shape ", shape_str(grad_out.shape()),
            " for an output of shape ", shape_str(g_shape), " (a ", shape_str(a.shape()), ", b ",
            shape_str(b.shape()), ")");
  Tensor g2 = grad_out.detach().reshape(concat(batch, {M, N}));
  MatmulGrads grads;
  if (need_a) {
    Tensor ga = batched_product(g2, b2.transpose(-1, -2));  // (batch..., M, K)
    grads.a = sum_to(ga, a2.shape()).reshape(a.shape());
  }
  if (need_b) {
    if (b2.dim() == 2 && a2.dim() > 2) {
      // b was shared by every batch element: sum_batch a_b^T g_b is one GEMM over the folded rows,
      // (K, B*M) · (B*M, N), with no (B, K, N) intermediate.
      const int64_t rows = shape_numel(batch) * M;
      grads.b = batched_product(a2.reshape({rows, K}).t(), g2.reshape({rows, N})).reshape(b.shape());
    } else {
      Tensor gb = batched_product(a2.transpose(-1, -2), g2);  // (batch..., K, N)
      grads.b = sum_to(gb, b2.shape()).reshape(b.shape());
    }
  }
  return grads;
}

struct MatmulBackward final : Node {
  const char* name() const override { return "matmul_backward"; }
  TensorList backward(const Tensor& g) override {
    MatmulGrads gr = matmul_backward(g, saved(0), saved(1), next_edges[0].node != nullptr,
                                     next_edges[1].node != nullptr);
    return {gr.a, gr.b};
  }
};

Tensor matmul(const Tensor& a, const Tensor& b) {
  const OpScope op_scope("matmul");
  CXR_CHECK(a.defined() && b.defined(), "matmul: called with an undefined tensor");
  CXR_CHECK(a.device() == b.device(), "matmul: tensors on different devices (", device_name(a.device()), " vs ",
            device_name(b.device()), ")");
  CXR_CHECK(is_floating(a.dtype()) && is_floating(b.dtype()), "matmul: expected floating tensors (float32 or float64), got ",
            dtype_name(a.dtype()), " ", shape_str(a.shape()), " and ", dtype_name(b.dtype()), " ", shape_str(b.shape()));
  CXR_CHECK(a.dtype() == b.dtype(), "matmul: dtype mismatch: ", dtype_name(a.dtype()), " ", shape_str(a.shape()),
            " vs ", dtype_name(b.dtype()), " ", shape_str(b.shape()), " (convert one with .to())");
  CXR_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got a ", shape_str(a.shape()),
            " and b ", shape_str(b.shape()));
  Tensor a2 = promote_lhs(a.detach()), b2 = promote_rhs(b.detach());
  CXR_CHECK(a2.size(-1) == b2.size(-2), "matmul: inner dimensions differ: a ", shape_str(a.shape()), " vs b ",
            shape_str(b.shape()), " (", a2.size(-1), " vs ", b2.size(-2), ")");
  try {
    broadcast_shapes(batch_dims(a2), batch_dims(b2), "matmul");
  } catch (const Error& e) {
    fail("matmul: batch dims of a ", shape_str(a.shape()), " and b ", shape_str(b.shape()), " do not broadcast (",
         e.what(), ")");
  }
  Tensor out = batched_product(a2, b2).view(matmul_shape(a2, b2, a.dim() == 1, b.dim() == 1));
  record_op<MatmulBackward>(out, {a, b}, {a, b});
  return out;
}

// ======================= reference CPU kernel =======================
// bmm: out[p, i, j] = sum_k a[p, i, k] * b[p, k, j]
// A plain triple loop per batch element. Operands are read through their strides (a transposed
// operand is just other strides); products are accumulated in double (float32 and float64 alike),
// then rounded once to the output type.
static void bmm_cpu(const Tensor& a, const Tensor& b, const Tensor& out) {
  CXR_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && a.size(0) == b.size(0) && a.size(0) == out.size(0) &&
                a.size(2) == b.size(1) && out.size(1) == a.size(1) && out.size(2) == b.size(2),
            "bmm: expects a (B, M, K), b (B, K, N), out (B, M, N), got a ", shape_str(a.shape()), ", b ",
            shape_str(b.shape()), ", out ", shape_str(out.shape()));
  CXR_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "bmm: dtype mismatch");
  visit_floating(a.dtype(), "bmm", [&]<typename T>() {
    using Acc = double;
    const int64_t B = a.size(0), M = a.size(1), K = a.size(2), N = b.size(2);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const int64_t a0 = a.stride(0), a1 = a.stride(1), a2 = a.stride(2);
    const int64_t b0 = b.stride(0), b1 = b.stride(1), b2 = b.stride(2);
    const int64_t o0 = out.stride(0), o1 = out.stride(1), o2 = out.stride(2);
    for (int64_t p = 0; p < B; ++p)
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
          Acc acc = 0;
          for (int64_t k = 0; k < K; ++k) acc += Acc(pa[p * a0 + i * a1 + k * a2]) * Acc(pb[p * b0 + k * b1 + j * b2]);
          po[p * o0 + i * o1 + j * o2] = T(acc);
        }
  });
}

KernelTable<BmmFn> bmm_kernel{"bmm", {
    .cpu_reference = bmm_cpu,
    .cpu_fast = cpu::bmm_fast,
    .cuda = CXR_CUDA_KERNEL(bmm),
    .cuda_library = CXR_CUDA_LIBRARY_KERNEL(cublas_bmm),
}};

}  // namespace cxr
