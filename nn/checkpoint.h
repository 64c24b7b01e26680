// checkpoint.h — module state in safetensors files: saving (atomic, see tensor/safetensors.h) and
// loading with strict/non-strict checks, a prefix filter, exclusions and renames, as the reference
// from_pretrained does (e.g. take "image_model.*" from a joint checkpoint and drop "fc*").
// Format and naming: docs/CHECKPOINTS.md.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "nn/module.h"

namespace cxr::nn {

struct LoadOptions {
  bool strict = true;                     // strict: any missing/unexpected/mismatched key is an error
  std::string prefix{};                   // keep only keys starting with it, and strip it
  std::vector<std::string> exclude{};     // globs on the stripped key, e.g. "fc.*"
  std::map<std::string, std::string> rename{};  // stripped checkpoint key -> module key
};

struct LoadReport {
  std::vector<std::string> loaded;
  std::vector<std::string> missing;     // in the module, not in the checkpoint
  std::vector<std::string> unexpected;  // in the checkpoint, not in the module
  std::vector<std::string> mismatched;  // "name: checkpoint [a, b] vs module [c, d]" (not loaded)
  bool complete() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe() const;
};

// Copies values into the module's existing tensors (so optimizers keep their references),
// converting dtype where needed. Strict loading checks everything before changing anything.
LoadReport load_state_dict(Module& module, const std::map<std::string, Tensor>& tensors, const LoadOptions& options = {});
LoadReport load_checkpoint(Module& module, const std::string& path, const LoadOptions& options = {});
void save_checkpoint(const Module& module, const std::string& path, const std::map<std::string, std::string>& metadata = {});

}  // namespace cxr::nn
