// node.h — the autograd tape. Every differentiable op that sees an input requiring grad records
// a Node: the op's named backward, the tensors it saved, and one Edge per input pointing at the
// node that produced that input (or the AccumulateGrad node of a leaf).
// backward(grad_output) returns one gradient per input, each of that input's shape.
// The walk over the graph (topological order, accumulation, freeing) is in engine.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cxr {

using TensorList = std::vector<Tensor>;

struct Edge {
  std::shared_ptr<Node> node;  // null when that input does not require grad
  Shape input_shape;           // for checking the shape of the gradient a backward returns
  DType input_dtype = DType::Float32;
};

class Node {
 public:
  // Tears down the chain of nodes this one solely owns iteratively, so that freeing a graph
  // millions of ops deep cannot overflow the stack.
  virtual ~Node();
  // The backward's name as a reader finds it in the code, e.g. "mul_backward".
  virtual const char* name() const = 0;
  // Gradients w.r.t. each input, given the gradient w.r.t. the output. An undefined Tensor in the
  // result means "no gradient" (e.g. for an integer input). Runs with grad mode off.
  virtual TensorList backward(const Tensor& grad_output) = 0;

  std::vector<Edge> next_edges;

  // Saved tensors are stored detached (no grad_fn): backward only reads their values, and a saved
  // output must not point back at its own node (that would be a reference cycle).
  void save(std::initializer_list<Tensor> tensors);
  const Tensor& saved(size_t i) const;
  // Frees saved tensors; a later backward through this node throws. AccumulateGrad overrides it
  // with a no-op: a leaf's sink is shared by every graph the leaf takes part in.
  virtual void release();
  bool released() const { return released_; }

 private:
  std::vector<Tensor> saved_;
  bool released_ = false;
};

// The sink of a leaf tensor: adds the incoming gradient into leaf.grad (parameters accumulate).
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "accumulate_grad"; }
  TensorList backward(const Tensor& grad_output) override;
  void release() override {}

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// ---- grad mode ----
// Grad mode is per thread. While it is off, ops record nothing.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// ---- recording helpers used by ops ----
// True when grad mode is on and any of the tensors requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
// Connects `node` to `inputs` (one edge each, in order) and makes it out's grad_fn.
void record(Tensor& out, const std::shared_ptr<Node>& node, std::initializer_list<Tensor> inputs);
void record(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs);

// The usual recording step of an op: when any input needs grad, build NodeT(args...), save the
// given tensors in it and connect it. Returns nothing; `out` becomes the node's output.
template <typename NodeT, typename... Args>
void record_op(Tensor& out, std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> saved,
               Args&&... args) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<NodeT>(std::forward<Args>(args)...);
  node->save(saved);
  record(out, node, inputs);
}

// Runs the backward pass from `root` with upstream gradient `grad` (see engine.cpp).
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace cxr
