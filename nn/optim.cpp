// optim.cpp — see optim.h for the update rules. Updates are written with tensor ops under
// NoGradGuard and copied into the parameter's storage, so the code reads like the math.
#include "nn/optim.h"

#include <cmath>

#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

namespace cxr::nn {

std::vector<ParamGroup> param_groups(const Module& module, double lr, double weight_decay) {
  ParamGroup g;
  g.lr = lr;
  g.weight_decay = weight_decay;
  for (auto& [name, p] : module.named_parameters())
    if (p.requires_grad()) g.params.emplace_back(name, p);
  return {g};
}

std::vector<ParamGroup> param_groups_with_no_decay(const Module& module, double lr, double weight_decay,
                                                   const std::vector<std::string>& no_decay) {
  ParamGroup decay, plain;
  decay.lr = plain.lr = lr;
  decay.weight_decay = weight_decay;
  plain.weight_decay = 0;
  for (auto& [name, p] : module.named_parameters()) {
    if (!p.requires_grad()) continue;
    bool exempt = false;
    for (const auto& pattern : no_decay) exempt = exempt || name_matches(pattern, name);
    (exempt ? plain : decay).params.emplace_back(name, p);
  }
  return {decay, plain};
}

// ---- Optimizer ----
Optimizer::Optimizer(std::vector<ParamGroup> groups) : groups_(std::move(groups)) {
  std::map<std::string, int> seen;
  for (auto& g : groups_) {
    CXR_CHECK(g.lr >= 0, "optimizer: negative learning rate ", g.lr);
    if (g.initial_lr < 0) g.initial_lr = g.lr;
    for (auto& [name, p] : g.params) {
      CXR_CHECK(++seen[name] == 1, "optimizer: parameter '", name, "' appears in more than one group");
      CXR_CHECK(is_floating(p.dtype()), "optimizer: parameter '", name, "' is not floating");
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& [name, p] : g.params) p.zero_grad();
}

Tensor& Optimizer::state(const std::string& name, const char* slot, const Tensor& param) {
  auto [it, inserted] = state_.try_emplace(name + "." + slot);
  if (inserted) it->second = zeros(param.shape(), param.options());
  return it->second;
}

bool Optimizer::has_state(const std::string& name, const char* slot) const {
  return state_.count(name + "." + slot) > 0;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out = state_;
  out["step"] = scalar_tensor(double(steps_), {.dtype = DType::Int64});
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto step_it = state.find("step");
  CXR_CHECK(step_it != state.end(), "optimizer state: missing 'step'");
  std::map<std::string, const Tensor*> params;
  for (auto& g : groups_)
    for (auto& [name, p] : g.params) params[name] = &p;
  std::map<std::string, Tensor> loaded;
  for (const auto& [key, t] : state) {
    if (key == "step") continue;
    size_t dot = key.rfind('.');
    CXR_CHECK(dot != std::string::npos, "optimizer state: malformed key '", key, "'");
    auto p = params.find(key.substr(0, dot));
    CXR_CHECK(p != params.end(), "optimizer state: '", key, "' names no parameter of this optimizer");
    CXR_CHECK(t.shape() == p->second->shape(), "optimizer state: '", key, "' has shape ", shape_str(t.shape()),
              " but the parameter has ", shape_str(p->second->shape()));
    loaded[key] = t.to(p->second->dtype()).to(p->second->device()).clone();
  }
  state_ = std::move(loaded);
  steps_ = static_cast<int64_t>(step_it->second.item());
}

void Optimizer::to(Device device) {
  for (auto& [key, t] : state_) t = copy_to(t, device);
}

void Optimizer::save(const std::string& path) const { write_safetensors(path, state_dict(), {{"format", "cxr-optimizer"}}); }
void Optimizer::load(const std::string& path) {
  try {
    load_state_dict(read_safetensors(path).tensors);
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.rfind(path, 0) == 0) throw;
    fail(path, ": ", what);
  }
}

// Writes `value` into the parameter's storage.
static void assign(const Tensor& param, const Tensor& value) { copy_(param, value); }

// ---- SGD ----
SGD::SGD(std::vector<ParamGroup> groups, SGDOptions o) : Optimizer(std::move(groups)), options(o) {
  CXR_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), "SGD: nesterov needs momentum > 0 and dampening 0");
}

void SGD::step() {
  NoGradGuard no_grad;
  ++steps_;
  for (auto& group : groups_) {
    for (auto& [name, p] : group.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      Tensor g = group.weight_decay != 0 ? grad + p * group.weight_decay : grad;
      if (options.momentum != 0) {
        bool first = !has_state(name, "momentum_buffer");
        Tensor& buf = state(name, "momentum_buffer", p);
        buf = first ? g.clone() : buf * options.momentum + g * (1 - options.dampening);
        g = options.nesterov ? g + buf * options.momentum : buf;
      }
      assign(p, p - g * group.lr);
    }
  }
}

// ---- Adam ----
Adam::Adam(std::vector<ParamGroup> groups, AdamOptions o) : Optimizer(std::move(groups)), options(o) {}

void Adam::step() {
  NoGradGuard no_grad;
  ++steps_;
  const double t = double(steps_);
  const double bias1 = 1 - std::pow(options.beta1, t), bias2 = 1 - std::pow(options.beta2, t);
  for (auto& group : groups_) {
    for (auto& [name, p] : group.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      Tensor g = group.weight_decay != 0 ? grad + p * group.weight_decay : grad;
      Tensor& m = state(name, "exp_avg", p);
      Tensor& v = state(name, "exp_avg_sq", p);
      m = m * options.beta1 + g * (1 - options.beta1);
      v = v * options.beta2 + g * g * (1 - options.beta2);
      Tensor denom = sqrt(v) / std::sqrt(bias2) + options.eps;
      assign(p, p - m / denom * (group.lr / bias1));
    }
  }
}

// ---- AdamW ----
AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions o) : Optimizer(std::move(groups)), options(o) {}

void AdamW::step() {
  NoGradGuard no_grad;
  ++steps_;
  const double t = double(steps_);
  for (auto& group : groups_) {
    double step_size = group.lr;
    if (options.correct_bias) step_size *= std::sqrt(1 - std::pow(options.beta2, t)) / (1 - std::pow(options.beta1, t));
    for (auto& [name, p] : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      Tensor& m = state(name, "exp_avg", p);
      Tensor& v = state(name, "exp_avg_sq", p);
      m = m * options.beta1 + g * (1 - options.beta1);
      v = v * options.beta2 + g * g * (1 - options.beta2);
      Tensor updated = p - m / (sqrt(v) + options.eps) * step_size;
      if (group.weight_decay != 0) updated = updated - updated * (group.lr * group.weight_decay);  // decoupled, after
      assign(p, updated);
    }
  }
}

// ---- schedules ----
double warmup_linear(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return double(step) / double(std::max<int64_t>(1, warmup));
  return std::max(0.0, double(total - step) / double(std::max<int64_t>(1, total - warmup)));
}

double warmup_cosine(int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return double(step) / double(std::max<int64_t>(1, warmup));
  double progress = double(step - warmup) / double(std::max<int64_t>(1, total - warmup));
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

LRScheduler::LRScheduler(Optimizer& optimizer, std::function<double(int64_t)> multiplier)
    : optimizer_(optimizer), multiplier_(std::move(multiplier)) {
  for (auto& g : optimizer_.groups()) g.lr = g.initial_lr * multiplier_(0);
}

void LRScheduler::step() {
  ++step_;
  for (auto& g : optimizer_.groups()) g.lr = g.initial_lr * multiplier_(step_);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard no_grad;
  double total = 0;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (g.defined()) total += sum(g.to(DType::Float64) * g.to(DType::Float64)).item();
  }
  total = std::sqrt(total);
  double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for (const Tensor& p : params) {
      Tensor g = p.grad();
      if (g.defined()) const_cast<Tensor&>(p).set_grad(g * coef);
    }
  }
  return total;
}

}  // namespace cxr::nn
