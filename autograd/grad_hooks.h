// grad_hooks.h — "gradient ready" callbacks on leaf tensors, for code that must act on a
// parameter's gradient as soon as a backward pass has finished accumulating it (the data-parallel
// reducer of dist/reducer.h starts its all-reduce there, while the rest of the backward still runs).
// A hook runs inside run_backward (engine.cpp), on the thread that called backward(), right after
// the leaf's AccumulateGrad node has added the pass's summed gradient into leaf.grad: in that
// backward nothing more will be added to it. Hooks see the leaf's whole .grad (shape of the leaf).
// autograd knows nothing of what a hook does; it only calls it.
#pragma once

#include <cstdint>
#include <functional>

#include "tensor/tensor.h"

namespace cxr {

using GradReadyHook = std::function<void(const Tensor& grad)>;

// Removes its hook when destroyed (or on reset()). Movable, not copyable.
class GradHookHandle {
 public:
  GradHookHandle() = default;
  explicit GradHookHandle(uint64_t id) : id_(id) {}
  GradHookHandle(GradHookHandle&& other) noexcept : id_(other.id_) { other.id_ = 0; }
  GradHookHandle& operator=(GradHookHandle&& other) noexcept;
  GradHookHandle(const GradHookHandle&) = delete;
  GradHookHandle& operator=(const GradHookHandle&) = delete;
  ~GradHookHandle() { reset(); }
  void reset();
  bool active() const { return id_ != 0; }

 private:
  uint64_t id_ = 0;
};

// Registers `hook` on the leaf tensor `leaf` (which must require grad). Several hooks on one leaf
// run in registration order. Throws on a non-leaf or a tensor that does not require grad.
[[nodiscard]] GradHookHandle add_grad_ready_hook(const Tensor& leaf, GradReadyHook hook);

// Called by AccumulateGrad (engine.cpp): runs the hooks registered on `leaf`, if any.
void run_grad_ready_hooks(const TensorImpl* leaf, const Tensor& grad);

}  // namespace cxr
