// module.cpp — see module.h.
#include "nn/module.h"

#include <sstream>

#include "autograd/node.h"
#include "ops/ops.h"

namespace cxr::nn {

bool name_matches(const std::string& pattern, const std::string& name) {
  // Iterative glob with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, mark = n;
    } else if (star != std::string::npos) {
      p = star + 1, n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

static void check_name(const std::string& name, const std::string& owner) {
  CXR_CHECK(!name.empty() && name.find('.') == std::string::npos, owner, ": invalid member name '", name,
            "' (must be non-empty, without '.')");
}

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  check_name(name, type_name());
  CXR_CHECK(is_floating(value.dtype()), type_name(), ": parameter '", name, "' must be floating");
  if (!value.requires_grad()) value.requires_grad_(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  check_name(name, type_name());
  buffers_.emplace_back(name, value);
  return value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_name(name, type_name());
  CXR_CHECK(module != nullptr, type_name(), ": child '", name, "' is null");
  children_.emplace_back(name, std::move(module));
}

void Module::collect(const std::string& prefix, NamedTensors& out, bool parameters) const {
  for (const auto& [name, t] : parameters ? params_ : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out, parameters);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out, true);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", out, false);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& [name, child] : children_) out.emplace_back(name, child.get());
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : named_parameters()) out[name] = t;
  for (auto& [name, t] : named_buffers()) out[name] = t;
  return out;
}

// Rebinds t's TensorImpl to a converted copy of its values (a fresh contiguous storage), so every
// handle to t sees the new dtype. Views of t made earlier keep the old storage.
static void convert_in_place(const Tensor& t, DType dtype) {
  if (!is_floating(t.dtype()) || t.dtype() == dtype) return;
  Tensor converted = t.detach().to(dtype).contiguous();
  TensorImpl* impl = t.impl();
  impl->storage = converted.impl()->storage;
  impl->strides = converted.strides();
  impl->offset = converted.offset();
  impl->dtype = dtype;
  impl->grad.reset();
}

// Rebinds t's TensorImpl to a copy of its values on `device`, keeping its identity like
// convert_in_place; a gradient moves along.
static void move_in_place(const Tensor& t, Device device) {
  if (t.device() == device) return;
  Tensor moved = contiguous_values(copy_to(t, device));
  TensorImpl* impl = t.impl();
  if (impl->grad) impl->grad = copy_to(Tensor(impl->grad), device).impl_ptr();
  impl->storage = moved.impl()->storage;
  impl->strides = moved.strides();
  impl->offset = moved.offset();
  impl->device = device;
}

void Module::to(Device device) {
  for (auto& [name, t] : named_parameters()) move_in_place(t, device);
  for (auto& [name, t] : named_buffers()) move_in_place(t, device);
}

Device Module::device() const {
  for (auto& [name, t] : named_parameters()) return t.device();
  for (auto& [name, t] : named_buffers()) return t.device();
  return Device::CPU;
}

void Module::to(DType dtype) {
  CXR_CHECK(is_floating(dtype), type_name(), ".to: expected a floating dtype, got ", dtype_name(dtype));
  for (auto& [name, t] : named_parameters()) convert_in_place(t, dtype);
  for (auto& [name, t] : named_buffers()) convert_in_place(t, dtype);
}

void Module::train(bool on) {
  training_ = on;
  on_train(on);
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, t] : named_parameters()) t.zero_grad();
}

int64_t Module::set_requires_grad(const std::string& pattern, bool requires_grad) {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) {
    if (!name_matches(pattern, name)) continue;
    t.requires_grad_(requires_grad);
    if (!requires_grad) t.zero_grad();
    ++n;
  }
  return n;
}

int64_t Module::num_parameters(bool trainable_only) const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters())
    if (!trainable_only || t.requires_grad()) n += t.numel();
  return n;
}

void Module::print(std::string& out, const std::string& indent) const {
  out += type_name() + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [name, child] : children_) {
    out += indent + "  (" + name + "): ";
    child->print(out, indent + "  ");
    out += "\n";
  }
  out += indent + ")";
}

std::string Module::summary() const {
  std::string out;
  print(out, "");
  std::ostringstream s;
  s << "\nparameters: " << num_parameters() << " (trainable " << num_parameters(true) << ")";
  return out + s.str();
}

}  // namespace cxr::nn
