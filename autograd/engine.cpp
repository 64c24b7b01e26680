// engine.cpp — the backward walk over the tape recorded in node.h.
//
// 1. Collect every node reachable from the root (iterative DFS: no recursion, so graph depth is
//    unlimited) and count, for each node, how many edges point at it.
// 2. Walk in topological order (Kahn): a node runs once all nodes that feed it gradient have run.
//    Gradients arriving at one node from several consumers are summed before it runs.
// 3. Each node's backward returns one gradient per input; AccumulateGrad nodes add into leaf.grad.
// 4. Without retain_graph, each node frees its saved tensors after it runs; running it again throws.
// Gradients are summed with the add kernel directly (tensor/kernels/): autograd sits below the ops.
// Tensor's autograd members (requires_grad_, backward) are defined here, and the gradient-ready
// hooks of grad_hooks.h (called by AccumulateGrad once a pass's gradient is in leaf.grad).
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "autograd/grad_hooks.h"
#include "autograd/node.h"
#include "tensor/kernels/copy.h"
#include "tensor/kernels/elementwise.h"

namespace cxr {

// ---- Node ----
Node::~Node() {
  // Destroying a shared_ptr chain recursively would use one stack frame per node. Instead, nodes
  // whose last owner is this one are moved to a per-thread queue and released one by one by the
  // outermost destructor.
  thread_local std::vector<std::shared_ptr<Node>> orphans;
  thread_local bool draining = false;
  for (Edge& e : next_edges)
    if (e.node && e.node.use_count() == 1) orphans.push_back(std::move(e.node));
  next_edges.clear();
  if (draining) return;
  draining = true;
  while (!orphans.empty()) {
    std::shared_ptr<Node> n = std::move(orphans.back());
    orphans.pop_back();
    n.reset();  // its destructor queues its own sole-owned inputs
  }
  draining = false;
}

void Node::save(std::initializer_list<Tensor> tensors) {
  for (const Tensor& t : tensors) saved_.push_back(t.defined() ? t.detach() : Tensor());
}

const Tensor& Node::saved(size_t i) const {
  CXR_CHECK(!released_, name(), ": saved tensors were freed by an earlier backward");
  CXR_CHECK(i < saved_.size(), name(), ": no saved tensor ", i);
  return saved_[i];
}

void Node::release() {
  saved_.clear();
  released_ = true;
}

// a + b for two gradients of one shape, into a fresh contiguous tensor.
static Tensor sum_of(const Tensor& a, const Tensor& b) {
  Tensor out = empty(a.shape(), {a.dtype(), a.device(), false});
  binary_kernel(a.device())(BinaryOp::Add, a, b, out);
  return out;
}

TensorList AccumulateGrad::backward(const Tensor& grad_output) {
  // Parameters accumulate: leaf.grad += grad. A fresh tensor is stored each time, so a gradient
  // never aliases the caller's upstream gradient or a view inside the graph.
  if (leaf_->grad) {
    leaf_->grad = sum_of(Tensor(leaf_->grad), grad_output).impl_ptr();
  } else {
    Tensor copy = empty(grad_output.shape(), {grad_output.dtype(), grad_output.device(), false});
    copy_kernel(copy.device())(copy, grad_output);
    leaf_->grad = copy.impl_ptr();
  }
  run_grad_ready_hooks(leaf_.get(), Tensor(leaf_->grad));
  return {};
}

// ---- gradient-ready hooks ----
namespace {
struct HookEntry {
  const TensorImpl* leaf;
  GradReadyHook hook;
};
std::mutex g_hooks_mutex;
std::map<uint64_t, HookEntry> g_hooks;  // by id: registration order
std::atomic<size_t> g_hook_count{0};    // lets a backward without hooks skip the lock
uint64_t g_next_hook_id = 1;
}  // namespace

GradHookHandle& GradHookHandle::operator=(GradHookHandle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

void GradHookHandle::reset() {
  if (id_ == 0) return;
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  g_hooks.erase(id_);
  g_hook_count = g_hooks.size();
  id_ = 0;
}

GradHookHandle add_grad_ready_hook(const Tensor& leaf, GradReadyHook hook) {
  CXR_CHECK(leaf.defined() && leaf.requires_grad() && leaf.is_leaf(),
            "add_grad_ready_hook: the tensor must be a leaf that requires grad");
  CXR_CHECK(bool(hook), "add_grad_ready_hook: empty hook");
  std::lock_guard<std::mutex> lock(g_hooks_mutex);
  const uint64_t id = g_next_hook_id++;
  g_hooks.emplace(id, HookEntry{leaf.impl(), std::move(hook)});
  g_hook_count = g_hooks.size();
  return GradHookHandle(id);
}

void run_grad_ready_hooks(const TensorImpl* leaf, const Tensor& grad) {
  if (g_hook_count.load(std::memory_order_relaxed) == 0) return;
  std::vector<GradReadyHook> matching;  // copied out: a hook may add or remove hooks
  {
    std::lock_guard<std::mutex> lock(g_hooks_mutex);
    for (auto& [id, e] : g_hooks)
      if (e.leaf == leaf) matching.push_back(e.hook);
  }
  for (auto& h : matching) h(grad);
}

// ---- grad mode ----
namespace {
thread_local bool t_grad_enabled = true;
}
bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

// ---- recording ----
bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!t_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

static std::shared_ptr<Node> grad_sink(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.grad_fn()) return t.grad_fn();
  TensorImpl* impl = t.impl();
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return acc;
}

template <typename List>
static void record_impl(Tensor& out, const std::shared_ptr<Node>& node, const List& inputs) {
  node->next_edges.clear();
  for (const Tensor& t : inputs) {
    Edge e;
    e.node = grad_sink(t);
    if (t.defined()) {
      e.input_shape = t.shape();
      e.input_dtype = t.dtype();
    }
    node->next_edges.push_back(std::move(e));
  }
  out.impl()->grad_fn = node;
  out.impl()->requires_grad = true;
}

void record(Tensor& out, const std::shared_ptr<Node>& node, std::initializer_list<Tensor> inputs) {
  record_impl(out, node, inputs);
}
void record(Tensor& out, const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs) {
  record_impl(out, node, inputs);
}

// ---- Tensor's autograd members ----
Tensor& Tensor::requires_grad_(bool value) {
  CXR_CHECK(is_leaf(), "requires_grad_: only leaf tensors can be marked; this one was produced by ",
            grad_fn()->name());
  CXR_CHECK(!value || is_floating(dtype()), "requires_grad_: only floating tensors can require grad, got ",
            dtype_name(dtype()));
  impl()->requires_grad = value;
  return *this;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  run_backward(*this, gradient, retain_graph);
}

// ---- backward ----
void run_backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  CXR_CHECK(root.defined(), "backward: called on an undefined tensor");
  CXR_CHECK(root.requires_grad(), "backward: tensor of shape ", shape_str(root.shape()),
            " does not require grad and has no grad_fn");
  Tensor upstream;
  if (grad.defined()) {
    CXR_CHECK(grad.shape() == root.shape(), "backward: gradient shape ", shape_str(grad.shape()),
              " does not match the tensor's shape ", shape_str(root.shape()));
    CXR_CHECK(grad.dtype() == root.dtype(), "backward: gradient dtype ", dtype_name(grad.dtype()),
              " does not match the tensor's dtype ", dtype_name(root.dtype()));
    upstream = grad.detach();
  } else {
    CXR_CHECK(root.numel() == 1, "backward: implicit gradient needs a one-element output, got shape ",
              shape_str(root.shape()), "; pass the upstream gradient explicitly");
    upstream = ones_like(root);
  }
  NoGradGuard no_grad;
  std::shared_ptr<Node> start = grad_sink(root);

  // 1. Dependency counts over the reachable graph.
  std::unordered_map<Node*, int> dependencies;
  std::unordered_set<Node*> seen{start.get()};
  std::vector<Node*> stack{start.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.node) continue;
      ++dependencies[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }

  // 2. Topological walk. `pending` holds the summed gradient waiting at each node.
  std::unordered_map<Node*, Tensor> pending{{start.get(), upstream}};
  std::deque<Node*> ready{start.get()};
  while (!ready.empty()) {
    Node* n = ready.front();
    ready.pop_front();
    auto it = pending.find(n);
    TensorList grads_in;
    if (it != pending.end()) {
      CXR_CHECK(!n->released(), "backward: ", n->name(),
                ": trying to backward through the graph a second time (its saved tensors were freed "
                "after the first backward); pass retain_graph=true to the first backward");
      Tensor g = std::move(it->second);
      pending.erase(it);
      grads_in = n->backward(g);
      CXR_CHECK(grads_in.empty() || grads_in.size() == n->next_edges.size(), "backward: ", n->name(),
                " returned ", grads_in.size(), " gradients for ", n->next_edges.size(), " inputs");
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.node) continue;
      if (i < grads_in.size() && grads_in[i].defined()) {
        const Tensor& gi = grads_in[i];
        CXR_CHECK(gi.shape() == e.input_shape, "backward: ", n->name(), " returned a gradient of shape ",
                  shape_str(gi.shape()), " for input ", i, " of shape ", shape_str(e.input_shape));
        CXR_CHECK(gi.dtype() == e.input_dtype, "backward: ", n->name(), " returned a ",
                  dtype_name(gi.dtype()), " gradient for ", dtype_name(e.input_dtype), " input ", i);
        auto [slot, inserted] = pending.try_emplace(e.node.get(), gi);
        if (!inserted) slot->second = sum_of(slot->second, gi);  // several consumers: sum
      }
      if (--dependencies[e.node.get()] == 0) ready.push_back(e.node.get());
    }
    if (!retain_graph) n->release();
  }
}

}  // namespace cxr
