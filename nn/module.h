// module.h — Module: a tree of named parameters, buffers and child modules, with PyTorch
// state_dict naming ("layer1.0.conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked"),
// train/eval mode, freezing by name pattern, parameter counting and a printable summary.
// Tensors are handles: a module's parameters are the very tensors an optimizer updates.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace cxr::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Glob match with '*' (any run of characters, dots included) and '?' (one character).
// "layer6.*" matches every parameter of layer6; "*bias" every bias.
bool name_matches(const std::string& pattern, const std::string& name);

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name shown in summaries, e.g. "Conv2d".
  virtual std::string type_name() const = 0;
  // Extra text inside the summary's parentheses, e.g. "1, 8, kernel_size=3, stride=1".
  virtual std::string extra_repr() const { return ""; }

  // ---- the tree (in registration order, recursively, dotted names) ----
  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Module*>> named_children() const;
  // Parameters and buffers, as PyTorch's state_dict().
  std::map<std::string, Tensor> state_dict() const;

  // ---- mode ----
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- dtype ----
  // Converts every floating parameter and buffer to `dtype` in place, as PyTorch's module.to(dtype)
  // or .double(): each tensor keeps its identity (the handles layers and optimizers hold see the
  // converted values and dtype), gradients are dropped, requires_grad is kept. Integer buffers
  // (num_batches_tracked) are left alone. Create optimizers after converting: their state is
  // created in the parameters' dtype.
  void to(DType dtype);

  // ---- device ----
  // Moves every parameter and buffer (and any gradient) to `device` in place, keeping identities
  // as to(dtype) does, so optimizers built before the move keep updating the same tensors (their
  // state follows with Optimizer::to). device() is the first parameter's (CPU for none).
  void to(Device device);
  Device device() const;

  // ---- gradients and freezing ----
  void zero_grad();
  // Sets requires_grad on every parameter whose full name matches the glob; returns how many.
  int64_t set_requires_grad(const std::string& pattern, bool requires_grad);
  int64_t freeze(const std::string& pattern = "*") { return set_requires_grad(pattern, false); }
  int64_t unfreeze(const std::string& pattern = "*") { return set_requires_grad(pattern, true); }
  int64_t num_parameters(bool trainable_only = false) const;

  // A PyTorch-style printout of the tree, with parameter counts at the end.
  std::string summary() const;

 protected:
  // Registration returns the stored handle; modules keep a copy as a member for use in forward.
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }
  // Called by train(); modules with mode-dependent state may override (then call the base).
  virtual void on_train(bool) {}

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void collect(const std::string& prefix, NamedTensors& out, bool parameters) const;
  void print(std::string& out, const std::string& indent) const;

  bool training_ = true;
  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Puts a module in eval mode for the scope, then back in the mode it had (also when unwinding).
class EvalModeScope {
 public:
  explicit EvalModeScope(Module& m) : module_(m), was_training_(m.is_training()) { module_.eval(); }
  ~EvalModeScope() { module_.train(was_training_); }
  EvalModeScope(const EvalModeScope&) = delete;
  EvalModeScope& operator=(const EvalModeScope&) = delete;

 private:
  Module& module_;
  bool was_training_;
};

// A module with one input and one output (layers, Sequential).
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace cxr::nn
