// loss.cu — the cross-entropy kernels on CUDA tensors (tensor/kernels/loss.h; reference:
// ops/loss.cpp): log_probs (N, C, *), target (N, *) int64, any strides. The positions (n, *) are
// walked as the shape (N, 1, *), target and loss given a stride-0 class dim (the reference's
// trick). The forward checks every target on the device and throws the reference's message for
// the first bad one in row-major order (index_check.cuh: one synchronizing read-back per call).
//
// Cost (P positions, C classes, b bytes per value; H100 3.35 TB/s), memory-bound:
//   forward: per position one target (8 B), one gathered log-prob (b, a 32-byte sector when
//     scattered) and one loss write: P (8 + 2 b) bytes, or ~P 40 B with sectors; (65536) float32
//     positions, ~2.6 MB, >= 0.8 us, plus the read-back's round trip (~10 us).
//   backward: P C (2 b) + P (8 + b) bytes, one exp per element: (65536, 1000) float32, 525 MB,
//     >= 157 us.
#include "cuda/device_math.cuh"
#include "cuda/index_check.cuh"
#include "cuda/kernels.h"

namespace cxr::cuda {
namespace {

// s with a stride-0 class dim inserted at 1: (N, *) strides walked over the shape (N, C or 1, *).
Strides with_class_dim(const Strides& s) {
  Strides out = s;
  out.insert(out.begin() + 1, 0);
  return out;
}

// loss[p] = -log_probs[p, target[p]], 0 where target == ignore_index; offsets {log_probs, target, loss}.
template <typename T>
__global__ void cross_entropy_kernel(StridedIter<3> it, int64_t n, const T* log_probs, int64_t class_stride,
                                     const int64_t* target, T* loss, int64_t classes, int64_t ignore_index,
                                     unsigned long long* bad) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    it.offsets(i, off);
    const int64_t t = target[off[1]];
    if (t == ignore_index) {
      loss[off[2]] = T(0);
    } else if (t < 0 || t >= classes) {
      flag_bad_position(bad, i);
    } else {
      loss[off[2]] = -log_probs[off[0] + t * class_stride];
    }
  }
}

// grad_logits[p, c] = grad_loss[p] (exp(log_probs[p, c]) - [c == target[p]]), 0 where ignored;
// offsets {log_probs, grad_logits, target, grad_loss, class}.
template <typename T>
__global__ void cross_entropy_backward_kernel(StridedIter<5> it, int64_t n, const T* log_probs, T* grad_logits,
                                              const int64_t* target, const T* grad_loss, int64_t ignore_index) {
  CXR_GRID_STRIDE_LOOP(i, n) {
    int64_t off[5];
    it.offsets(i, off);
    const int64_t t = target[off[2]];
    if (t == ignore_index) {  // assigned 0, never scale * 0 (scale may be inf)
      grad_logits[off[1]] = T(0);
    } else {
      const T onehot = off[4] == t ? T(1) : T(0);
      grad_logits[off[1]] = grad_loss[off[3]] * (dm::exp(log_probs[off[0]]) - onehot);
    }
  }
}

}  // namespace

void cross_entropy(const Tensor& log_probs, const Tensor& target, int64_t ignore_index, const Tensor& loss) {
  CXR_CHECK(log_probs.dim() >= 2 && target.dim() == log_probs.dim() - 1, "cross_entropy: log_probs ",
            shape_str(log_probs.shape()), " and target ", shape_str(target.shape()), " are not (N, C, *) and (N, *)");
  Shape positions = log_probs.shape();
  positions[1] = 1;
  const int64_t n = shape_numel(positions), classes = log_probs.shape()[1];
  if (n == 0) return;
  const auto it = make_iter<3>("cross_entropy", positions,
                               {log_probs.strides(), with_class_dim(target.strides()), with_class_dim(loss.strides())});
  const BadPositionFlag bad;
  visit_floating(log_probs.dtype(), "cross_entropy", [&]<typename T>() {
    launch("cross_entropy", cross_entropy_kernel<T>, blocks_for(n), kBlock, it, n, device_data<T>(log_probs),
           log_probs.strides()[1], device_data<int64_t>(target), device_data<T>(loss), classes, ignore_index,
           bad.device());
  });
  if (const int64_t p = bad.first(); p >= 0) {
    const int64_t t = int64_at(target, p);
    fail("cross_entropy: target class ", t, " is out of range for C = ", classes, " classes (valid: 0..",
         classes - 1, ", or ignore_index ", ignore_index, ")");
  }
}

void cross_entropy_backward(const Tensor& log_probs, const Tensor& target, int64_t ignore_index,
                            const Tensor& grad_loss, const Tensor& grad_logits) {
  const int64_t n = log_probs.numel();
  if (n == 0) return;
  Strides class_slot(size_t(log_probs.dim()), 0);
  class_slot[1] = 1;
  const auto it = make_iter<5>("cross_entropy_backward", log_probs.shape(),
                               {log_probs.strides(), grad_logits.strides(), with_class_dim(target.strides()),
                                with_class_dim(grad_loss.strides()), class_slot});
  visit_floating(log_probs.dtype(), "cross_entropy_backward", [&]<typename T>() {
    launch("cross_entropy_backward", cross_entropy_backward_kernel<T>, blocks_for(n), kBlock, it, n,
           device_data<T>(log_probs), device_data<T>(grad_logits), device_data<int64_t>(target),
           device_data<T>(grad_loss), ignore_index);
  });
}

}  // namespace cxr::cuda
