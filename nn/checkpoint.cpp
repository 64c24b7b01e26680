// checkpoint.cpp — see checkpoint.h.
#include "nn/checkpoint.h"

#include <sstream>

#include "autograd/node.h"
#include "ops/ops.h"
#include "tensor/safetensors.h"

namespace cxr::nn {

std::string LoadReport::describe() const {
  std::ostringstream s;
  auto list = [&](const char* what, const std::vector<std::string>& names) {
    if (names.empty()) return;
    s << "\n  " << what << " (" << names.size() << "):";
    for (size_t i = 0; i < names.size() && i < 20; ++i) s << " " << names[i] << (i + 1 < names.size() ? "," : "");
    if (names.size() > 20) s << " ...";
  };
  s << "loaded " << loaded.size() << " tensors";
  list("missing keys", missing);
  list("unexpected keys", unexpected);
  list("shape mismatches", mismatched);
  return s.str();
}

LoadReport load_state_dict(Module& module, const std::map<std::string, Tensor>& tensors, const LoadOptions& options) {
  // 1. Select and rename the checkpoint's keys.
  std::map<std::string, Tensor> source;
  for (const auto& [key, t] : tensors) {
    if (key.rfind(options.prefix, 0) != 0) continue;
    std::string name = key.substr(options.prefix.size());
    bool excluded = false;
    for (const auto& pattern : options.exclude) excluded = excluded || name_matches(pattern, name);
    if (excluded) continue;
    auto r = options.rename.find(name);
    source[r == options.rename.end() ? name : r->second] = t;
  }
  // 2. Match against the module.
  LoadReport report;
  std::map<std::string, Tensor> target = module.state_dict();
  std::vector<std::pair<Tensor, Tensor>> copies;  // (module tensor, checkpoint tensor)
  for (const auto& [name, t] : target) {
    auto it = source.find(name);
    if (it == source.end()) {
      report.missing.push_back(name);
    } else if (it->second.shape() != t.shape()) {
      report.mismatched.push_back(name + ": checkpoint " + shape_str(it->second.shape()) + " vs module " + shape_str(t.shape()));
    } else {
      copies.emplace_back(t, it->second);
      report.loaded.push_back(name);
    }
  }
  for (const auto& [name, t] : source)
    if (!target.count(name)) report.unexpected.push_back(name);
  if (options.strict && !report.complete()) fail("load_state_dict: strict loading failed: ", report.describe());
  // 3. Copy (in place: parameters keep their identity).
  NoGradGuard no_grad;
  for (auto& [dst, src] : copies) copy_(dst, src.to(dst.dtype()));
  return report;
}

LoadReport load_checkpoint(Module& module, const std::string& path, const LoadOptions& options) {
  SafetensorsFile file = read_safetensors(path);  // errors already name the path
  try {
    return load_state_dict(module, file.tensors, options);
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
}

void save_checkpoint(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta.emplace("format", "pt");  // the tag PyTorch's safetensors loader expects
  write_safetensors(path, module.state_dict(), meta);
}

}  // namespace cxr::nn
