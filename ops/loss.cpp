// loss.cpp — cross_entropy, binary_cross_entropy_with_logits and mse_loss, in numerically stable forms.
//   cross_entropy: logits (N, C) or (N, C, d1, ...) (or (C) with a 0-dim target); target int64 (N, d1, ...).
//   bce_with_logits, mse: input and target of one shape; pos_weight broadcasts to it.
// Derivations are in the comments above each backward. cross_entropy is one node over the logits,
// computed through log_softmax (so large logits never overflow); the reference kernels are at the bottom.
#include <cmath>

#include "autograd/node.h"
#include "cuda/kernels.h"
#include "ops/ops.h"
#include "tensor/strided_loop.h"

namespace cxr {

// The scalar (or per-element) loss from the per-element losses.
static Tensor apply_reduction(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Mean: return mean(loss);
    case Reduction::Sum: return sum(loss);
  }
  fail("loss: invalid reduction ", static_cast<int>(reduction));
}

static void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  CXR_CHECK(a.device() == b.device(), op, ": tensors on different devices (", device_name(a.device()), " vs ",
            device_name(b.device()), ")");
}

// Input and target of a pointwise loss: same shape, same floating dtype, same device.
static void check_pointwise_pair(const Tensor& input, const Tensor& target, const char* op) {
  CXR_CHECK(is_floating(input.dtype()), op, ": input must be floating, got ", dtype_name(input.dtype()));
  CXR_CHECK(input.shape() == target.shape(), op, ": target shape ", shape_str(target.shape()),
            " must equal input shape ", shape_str(input.shape()));
  CXR_CHECK(input.dtype() == target.dtype(), op, ": target dtype ", dtype_name(target.dtype()),
            " does not match input dtype ", dtype_name(input.dtype()));
  check_same_device(input, target, op);
}

// ---- cross_entropy ----
// With p = softmax(x) over the class dim and t the target class of one position,
//   loss = -log p_t = -log_softmax(x)_t,        d loss / d x_c = p_c - [c == t].
// Ignored positions contribute 0 to the loss and to the gradient. Reductions scale each position's
// gradient by the upstream g: None g[n, *]; Sum g; Mean g / W, W = the number of non-ignored
// positions (W = 0 gives a NaN mean, as PyTorch, and a zero gradient, since no position is used).
Tensor cross_entropy_backward(const Tensor& grad_out, const Tensor& log_probs, const Tensor& target,
                              int64_t ignore_index, Reduction reduction, const Tensor& total_weight) {
  const OpScope op_scope("cross_entropy_backward");
  Tensor grad_loss;
  switch (reduction) {
    case Reduction::None: grad_loss = grad_out; break;
    case Reduction::Sum: grad_loss = grad_out.expand(target.shape()); break;
    case Reduction::Mean: grad_loss = (grad_out / total_weight).expand(target.shape()); break;
  }
  Tensor grad_logits = empty(log_probs.shape(), log_probs.options());
  cross_entropy_backward_kernel(log_probs.device())(log_probs, target, ignore_index, grad_loss, grad_logits);
  return grad_logits;
}

struct CrossEntropyBackward final : Node {
  int64_t ignore_index;
  Reduction reduction;
  CrossEntropyBackward(int64_t ii, Reduction r) : ignore_index(ii), reduction(r) {}
  const char* name() const override { return "cross_entropy_backward"; }
  TensorList backward(const Tensor& g) override {
    return {cross_entropy_backward(g, saved(0), saved(1), ignore_index, reduction, saved(2))};
  }
};

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, Reduction reduction) {
  const OpScope op_scope("cross_entropy");
  CXR_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating, got ", dtype_name(logits.dtype()),
            " ", shape_str(logits.shape()));
  CXR_CHECK(target.dtype() == DType::Int64, "cross_entropy: target must hold int64 class indices, got ",
            dtype_name(target.dtype()), " ", shape_str(target.shape()),
            " (class probabilities as targets are not supported)");
  check_same_device(logits, target, "cross_entropy");
  if (logits.dim() == 1 && target.dim() == 0) {  // one sample: (C) logits, a 0-dim class index
    Tensor out = cross_entropy(logits.unsqueeze(0), target.unsqueeze(0), ignore_index, reduction);
    return reduction == Reduction::None ? out.squeeze(0) : out;
  }
  CXR_CHECK(logits.dim() >= 2, "cross_entropy: logits must be (N, C) or (N, C, d1, ...) (or (C) with a 0-dim "
            "target), got logits ", shape_str(logits.shape()), " and target ", shape_str(target.shape()));
  Shape expected = logits.shape();
  expected.erase(expected.begin() + 1);
  CXR_CHECK(target.shape() == expected, "cross_entropy: target shape ", shape_str(target.shape()),
            " does not match logits shape ", shape_str(logits.shape()), " (expected target shape ",
            shape_str(expected), ")");

  Tensor log_probs = empty(logits.shape(), logits.options());
  softmax_kernel(logits.device())(logits, 1, true, log_probs);
  Tensor loss = empty(target.shape(), logits.options());
  cross_entropy_kernel(logits.device())(log_probs, target, ignore_index, loss);

  Tensor out, total_weight;
  {
    NoGradGuard no_grad;
    switch (reduction) {
      case Reduction::None: out = loss; break;
      case Reduction::Sum: out = sum(loss); break;
      case Reduction::Mean:
        total_weight = sum(ne(target, scalar_tensor(double(ignore_index), target.options())).to(logits.dtype()));
        out = sum(loss) / total_weight;
        break;
    }
  }
  record_op<CrossEntropyBackward>(out, {logits}, {log_probs, target, total_weight}, ignore_index, reduction);
  return out;
}

// ---- binary_cross_entropy_with_logits ----
// PyTorch's definition, with pw the pos_weight (1 when absent) and w = 1 + (pw - 1) t:
//   loss = -(pw t log sigmoid(x) + (1 - t) log(1 - sigmoid(x)))
//        = pw t softplus(-x) + (1 - t) softplus(x)        since -log sigmoid(x) = softplus(-x)
//        = (1 - t) x + w softplus(-x)                      since softplus(x) = x + softplus(-x)
// softplus(-x) is evaluated as log1p(exp(-|x|)) + max(-x, 0), which never exponentiates a positive
// number; with w = 1 the loss is max(x, 0) - x t + log1p(exp(-|x|)).
//   d/dx = (1 - t) - w sigmoid(-x)            (= sigmoid(x) - t when w = 1)
//   d/dt = -x + (pw - 1) softplus(-x)         (= -x when w = 1)
// pos_weight is not differentiable (as PyTorch, which refuses a pos_weight that requires grad).
struct BceWithLogitsBackward final : Node {
  const char* name() const override { return "binary_cross_entropy_with_logits_backward"; }
  TensorList backward(const Tensor& g) override {
    const Tensor &x = saved(0), &t = saved(1), &pos_weight = saved(2);
    if (!pos_weight.defined()) return {g * ((1.0 - t) - sigmoid(-x)), g * -x};
    Tensor w = 1.0 + (pos_weight - 1.0) * t;
    Tensor softplus_neg_x = softplus(-abs(x)) + relu(-x);
    return {g * ((1.0 - t) - w * sigmoid(-x)), g * ((pos_weight - 1.0) * softplus_neg_x - x)};
  }
};

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, Reduction reduction,
                                        const Tensor& pos_weight) {
  const OpScope op_scope("binary_cross_entropy_with_logits");
  const char* op = "binary_cross_entropy_with_logits";
  check_pointwise_pair(logits, target, op);
  if (pos_weight.defined()) {
    CXR_CHECK(pos_weight.dtype() == logits.dtype(), op, ": pos_weight dtype ", dtype_name(pos_weight.dtype()),
              " does not match logits dtype ", dtype_name(logits.dtype()));
    CXR_CHECK(broadcast_shapes(pos_weight.shape(), logits.shape(), op) == logits.shape(), op,
              ": pos_weight of shape ", shape_str(pos_weight.shape()), " does not broadcast to logits shape ",
              shape_str(logits.shape()));
    CXR_CHECK(!needs_grad({pos_weight}), op, ": not differentiable with respect to pos_weight, which requires "
              "grad (as in PyTorch); pass pos_weight.detach()");
    check_same_device(logits, pos_weight, op);
  }
  Tensor loss;
  {
    NoGradGuard no_grad;
    Tensor softplus_neg_x = softplus(-abs(logits)) + relu(-logits);  // log1p(exp(-|x|)) + max(-x, 0)
    Tensor w_softplus = pos_weight.defined() ? (1.0 + (pos_weight - 1.0) * target) * softplus_neg_x : softplus_neg_x;
    loss = (1.0 - target) * logits + w_softplus;
  }
  record_op<BceWithLogitsBackward>(loss, {logits, target}, {logits, target, pos_weight});
  return apply_reduction(loss, reduction);
}

// ---- mse_loss ----
// loss = (x - t)^2          gx = 2 (x - t) g,  gt = -gx
struct MseLossBackward final : Node {
  const char* name() const override { return "mse_loss_backward"; }
  TensorList backward(const Tensor& g) override {
    Tensor gx = 2.0 * saved(0) * g;
    return {gx, -gx};
  }
};

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  const OpScope op_scope("mse_loss");
  check_pointwise_pair(input, target, "mse_loss");
  Tensor diff, loss;
  {
    NoGradGuard no_grad;
    diff = input - target;
    loss = diff * diff;
  }
  record_op<MseLossBackward>(loss, {input, target}, {diff});
  return apply_reduction(loss, reduction);
}

// ======================= reference CPU kernels =======================
// Both walk the positions (n, *) of log_probs (N, C, *) as the shape (N, 1, *), with target and
// loss strides given a stride-0 class dim; the class dim is then an inner loop of C elements.

static Strides with_class_dim(const Strides& s) {
  Strides out = s;
  out.insert(out.begin() + 1, 0);
  return out;
}

static void cross_entropy_cpu(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const Tensor& loss) {
  visit_floating(log_probs.dtype(), "cross_entropy", [&]<typename T>() {
    const T* lp = log_probs.data<T>();
    const int64_t* pt = target.data<int64_t>();
    T* pl = loss.data<T>();
    const int64_t classes = log_probs.shape()[1], class_stride = log_probs.strides()[1];
    Shape positions = log_probs.shape();
    positions[1] = 1;
    for_each_offset<3>(positions, {log_probs.strides(), with_class_dim(target.strides()), with_class_dim(loss.strides())},
                       [&](const Offsets<3>& o) {
                         const int64_t t = pt[o[1]];
                         if (t == ignore_index) {
                           pl[o[2]] = T(0);
                           return;
                         }
                         CXR_CHECK(t >= 0 && t < classes, "cross_entropy: target class ", t, " is out of range for C = ",
                                   classes, " classes (valid: 0..", classes - 1, ", or ignore_index ", ignore_index, ")");
                         pl[o[2]] = -lp[o[0] + t * class_stride];
                       });
  });
}

static void cross_entropy_backward_cpu(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                                       const Tensor& grad_loss, const Tensor& grad_logits) {
  visit_floating(log_probs.dtype(), "cross_entropy_backward", [&]<typename T>() {
    const T* lp = log_probs.data<T>();
    const int64_t* pt = target.data<int64_t>();
    const T* pg = grad_loss.data<T>();
    T* gx = grad_logits.data<T>();
    const int64_t classes = log_probs.shape()[1];
    const int64_t lp_stride = log_probs.strides()[1], gx_stride = grad_logits.strides()[1];
    Shape positions = log_probs.shape();
    positions[1] = 1;
    for_each_offset<4>(positions,
                       {log_probs.strides(), grad_logits.strides(), with_class_dim(target.strides()),
                        with_class_dim(grad_loss.strides())},
                       [&](const Offsets<4>& o) {
                         const int64_t t = pt[o[2]];
                         if (t == ignore_index) {  // assigned 0, never scale * 0 (scale may be inf)
                           for (int64_t c = 0; c < classes; ++c) gx[o[1] + c * gx_stride] = T(0);
                           return;
                         }
                         const T scale = pg[o[3]];
                         for (int64_t c = 0; c < classes; ++c) {
                           const T onehot = c == t ? T(1) : T(0);
                           gx[o[1] + c * gx_stride] = scale * (std::exp(lp[o[0] + c * lp_stride]) - onehot);
                         }
                       });
  });
}

KernelTable<CrossEntropyFn> cross_entropy_kernel{"cross_entropy", {
    .cpu_reference = cross_entropy_cpu,
    .cuda = CXR_CUDA_KERNEL(cross_entropy),
}};
KernelTable<CrossEntropyBackwardFn> cross_entropy_backward_kernel{"cross_entropy_backward", {
    .cpu_reference = cross_entropy_backward_cpu,
    .cuda = CXR_CUDA_KERNEL(cross_entropy_backward),
}};

}  // namespace cxr
