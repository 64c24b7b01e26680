// optim.h — optimizers over named parameter groups, learning-rate schedules and gradient clipping.
//   SGD    (PyTorch): g = grad + wd p; buf = mu buf + (1 - dampening) g; g = nesterov ? g + mu buf : buf;
//                     p -= lr g
//   Adam   (PyTorch): g = grad + wd p (L2); m, v moments; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
//   AdamW  (the reference text optimizer, HuggingFace form): m, v of grad; p -= step * m / (sqrt(v) + eps)
//          with step = lr (correct_bias = false) or lr sqrt(1-b2^t)/(1-b1^t); then p -= lr wd p.
// Parameters are updated in place (their storage), so modules and optimizers share them.
// State (moments, step) is named by parameter name and saves/loads as a tensor map.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/module.h"

namespace cxr::nn {

struct ParamGroup {
  NamedTensors params;
  double lr = 1e-3;
  double weight_decay = 0;
  double initial_lr = -1;  // set by the optimizer: the lr a schedule scales
};

// Splits a module's trainable parameters into a decayed group and a no-decay group (names
// matching any glob in no_decay, e.g. "*bias*", "*LayerNorm.weight*", as METHODS.md §7).
std::vector<ParamGroup> param_groups_with_no_decay(const Module& module, double lr, double weight_decay,
                                                   const std::vector<std::string>& no_decay = {"*bias*", "*LayerNorm.weight*"});
// All trainable parameters of a module in one group.
std::vector<ParamGroup> param_groups(const Module& module, double lr, double weight_decay = 0);

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup> groups);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }
  int64_t steps() const { return steps_; }

  // State as named tensors ("<param>.<slot>" plus "step"); load checks names and shapes.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void save(const std::string& path) const;  // from any device (written from a host copy)
  void load(const std::string& path);        // onto the parameters' device
  // Moves the state to `device` (after Module::to moved the parameters).
  void to(Device device);

 protected:
  // The state tensor `slot` of parameter `name`, created as zeros like `param` on first use.
  Tensor& state(const std::string& name, const char* slot, const Tensor& param);
  bool has_state(const std::string& name, const char* slot) const;
  std::vector<ParamGroup> groups_;
  int64_t steps_ = 0;

 private:
  std::map<std::string, Tensor> state_;
};

struct SGDOptions {
  double momentum = 0, dampening = 0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions options = {});
  void step() override;
  SGDOptions options;
};

struct AdamOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions options = {});
  void step() override;
  AdamOptions options;
};

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-6;
  bool correct_bias = true;
};
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
  void step() override;
  AdamWOptions options;
};

// ---- schedules: multipliers of each group's initial lr ----
// Linear rise over warmup steps, then linear decay to 0 at total (HuggingFace WarmupLinearSchedule).
double warmup_linear(int64_t step, int64_t warmup_steps, int64_t total_steps);
// Linear warmup, then half a cosine from 1 to 0 at total (HuggingFace WarmupCosineSchedule).
double warmup_cosine(int64_t step, int64_t warmup_steps, int64_t total_steps);
class LRScheduler {
 public:
  LRScheduler(Optimizer& optimizer, std::function<double(int64_t)> multiplier);
  void step();  // advances one step and sets every group's lr
  int64_t last_step() const { return step_; }

 private:
  Optimizer& optimizer_;
  std::function<double(int64_t)> multiplier_;
  int64_t step_ = 0;
};

// Scales all gradients so that their global L2 norm is at most max_norm (PyTorch's
// clip_grad_norm_: coefficient max_norm / (norm + 1e-6) when below 1). Returns the norm before.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace cxr::nn
