// test_architecture.cpp — the layering of docs/ARCHITECTURE.md, checked on the source tree: every
// project #include of every engine and pipeline file points at its own layer or one below it,
// every included project header exists, and no engine file includes an image, DICOM, text or CLI
// library. A new folder must be given a layer here (and in the doc) before it can hold code.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

// Layers from the bottom up. A file may include files of its own layer and of the layers listed
// as below it. The engine (cxr_engine) is tensor .. mi; the pipeline (cxr_pipeline) is text ..
// report; apps/ is the CLI.
struct Layer {
  std::string folder;                // path prefix inside the repository
  std::set<std::string> may_include;  // other layers' folders
  bool engine;
};

const std::vector<Layer>& layers() {
  static const std::set<std::string> engine = {"tensor", "tensor/cpu", "cuda", "autograd", "ops", "nn", "mi", "dist"};
  static const std::vector<std::string> pipeline_order = {"text", "data", "eval", "runs", "train", "interpret", "report"};
  static const std::vector<Layer> table = [] {
    std::vector<Layer> t = {
        {"tensor", {}, true},  // tensor core: Tensor, storage, dtype, shape, dispatch, kernel signatures
        {"tensor/cpu", {"tensor"}, true},  // the CPU backend: only the kernel signatures below it
        {"cuda", {"tensor"}, true},        // the CUDA backend: likewise
        {"autograd", {"tensor"}, true},    // the tape and the backward walk
        {"ops", {"tensor", "tensor/cpu", "cuda", "autograd"}, true},  // names each backend's kernels
        {"nn", {"tensor", "autograd", "ops"}, true},
        {"mi", {"tensor", "autograd", "ops", "nn"}, true},
        // data-parallel training: the process group, the gradient reducer, synchronized batch norm;
        // above nn (it reduces a Module's gradients), beside mi; the only engine layer with MPI/NCCL
        {"dist", {"tensor", "cuda", "autograd", "ops", "nn"}, true},
    };
    // Each pipeline layer sees the whole engine and the pipeline layers before it in the order.
    for (size_t i = 0; i < pipeline_order.size(); ++i) {
      Layer l{pipeline_order[i], engine, false};
      for (size_t j = 0; j < i; ++j) l.may_include.insert(pipeline_order[j]);
      t.push_back(l);
    }
    Layer apps{"apps", engine, false};
    for (auto& p : pipeline_order) apps.may_include.insert(p);
    t.push_back(apps);
    return t;
  }();
  return table;
}

// The layer a repository path belongs to: the longest folder prefix (tensor/cpu before tensor).
const Layer* layer_of(const std::string& path) {
  const Layer* best = nullptr;
  for (const Layer& l : layers())
    if (path.rfind(l.folder + "/", 0) == 0 && (!best || l.folder.size() > best->folder.size())) best = &l;
  return best;
}

struct Include {
  std::string file;
  int line;
  std::string target;
  bool quoted;
};

std::vector<Include> includes_of(const fs::path& root, const std::string& rel) {
  static const std::regex re(R"(^\s*#\s*include\s*([<"])([^>"]+)[>"])");
  std::vector<Include> out;
  std::ifstream in(root / rel);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back({rel, n, m[2].str(), m[1].str() == "\""});
  }
  return out;
}

std::vector<std::string> layered_sources(const fs::path& root) {
  std::vector<std::string> files;
  for (const Layer& l : layers()) {
    if (!fs::exists(root / l.folder)) continue;
    for (auto& e : fs::recursive_directory_iterator(root / l.folder)) {
      if (!e.is_regular_file()) continue;
      const std::string ext = e.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh" && ext != ".inc") continue;
      const std::string rel = fs::relative(e.path(), root).generic_string();
      if (layer_of(rel) == &l) files.push_back(rel);
    }
  }
  return files;
}

}  // namespace

TEST_CASE("architecture: every project include points at its own layer or one below") {
  const fs::path root = CXR_SOURCE_DIR;
  const std::vector<std::string> files = layered_sources(root);
  REQUIRE(files.size() > 100);  // the walk found the tree
  std::vector<std::string> violations;
  int checked = 0;
  for (const std::string& f : files) {
    const Layer* from = layer_of(f);
    for (const Include& inc : includes_of(root, f)) {
      if (!inc.quoted) continue;
      const fs::path beside = (root / f).parent_path() / inc.target;
      if (!fs::exists(root / inc.target) && fs::exists(beside)) {
        violations.push_back(f + ":" + std::to_string(inc.line) + ": \"" + inc.target +
                             "\" is relative to the file; write the repository path");
        continue;
      }
      if (!fs::exists(root / inc.target)) {
        violations.push_back(f + ":" + std::to_string(inc.line) + ": \"" + inc.target + "\" does not exist");
        continue;
      }
      const Layer* to = layer_of(inc.target);
      ++checked;
      if (!to) {
        violations.push_back(f + ":" + std::to_string(inc.line) + ": \"" + inc.target + "\" is in no layer");
      } else if (to != from && !from->may_include.count(to->folder)) {
        violations.push_back(f + ":" + std::to_string(inc.line) + ": " + from->folder + " may not include " +
                             to->folder + " (\"" + inc.target + "\")");
      }
    }
  }
  for (auto& v : violations) MESSAGE(v);
  CHECK(checked > 400);
  CHECK(violations.empty());
}

TEST_CASE("architecture: the rule table rejects upward includes") {
  // The rules themselves, so that a table edit that opened a back edge fails here.
  auto allowed = [](const std::string& from, const std::string& to) {
    const Layer* a = layer_of(from);
    const Layer* b = layer_of(to);
    return a && b && (a == b || a->may_include.count(b->folder) > 0);
  };
  CHECK(allowed("ops/conv.cpp", "tensor/cpu/kernels.h"));
  CHECK(allowed("tensor/cpu/conv.cpp", "tensor/kernels/conv.h"));
  CHECK(allowed("train/trainer.cpp", "runs/run_dir.h"));
  CHECK_FALSE(allowed("tensor/tensor.cpp", "autograd/node.h"));
  CHECK_FALSE(allowed("tensor/tensor.cpp", "ops/ops.h"));
  CHECK_FALSE(allowed("tensor/cpu/gemm.cpp", "ops/ops.h"));
  CHECK_FALSE(allowed("autograd/engine.cpp", "ops/ops.h"));
  CHECK_FALSE(allowed("cuda/copy.cu", "tensor/cpu/kernels.h"));
  CHECK_FALSE(allowed("nn/layers.cpp", "data/image.h"));
  CHECK_FALSE(allowed("runs/run_dir.cpp", "train/trainer.h"));
  CHECK_FALSE(allowed("data/image.cpp", "train/trainer.h"));
  CHECK(allowed("dist/reducer.cpp", "nn/module.h"));
  CHECK(allowed("train/trainer.cpp", "dist/comm.h"));
  CHECK_FALSE(allowed("nn/layers.cpp", "dist/comm.h"));
  CHECK_FALSE(allowed("autograd/engine.cpp", "dist/reducer.h"));
  CHECK_FALSE(allowed("dist/reducer.cpp", "train/trainer.h"));
}

TEST_CASE("architecture: the engine includes no image, DICOM, text-format or CLI library") {
  const fs::path root = CXR_SOURCE_DIR;
  const std::vector<std::string> forbidden = {"stb/", "dcmtk/", "CLI/", "mpi.h", "nccl.h"};
  // MPI and NCCL belong to dist/'s implementation files alone: no header shows them, so nothing
  // that includes dist/ depends on an MPI installation.
  auto transport_allowed = [](const std::string& file, const std::string& target) {
    return (target == "mpi.h" || target == "nccl.h") && file.rfind("dist/", 0) == 0 && file.ends_with(".cpp");
  };
  std::vector<std::string> violations;
  for (const std::string& f : layered_sources(root)) {
    if (!layer_of(f)->engine) continue;
    for (const Include& inc : includes_of(root, f))
      for (auto& bad : forbidden)
        if (inc.target.rfind(bad, 0) == 0 && !transport_allowed(f, inc.target))
          violations.push_back(f + ":" + std::to_string(inc.line) + ": <" + inc.target + ">");
  }
  for (auto& v : violations) MESSAGE(v);
  CHECK(violations.empty());
}

TEST_CASE("architecture: a file in a folder with no layer is reported") {
  // The table is the whole rule: a source folder it does not name would escape the check.
  const fs::path root = CXR_SOURCE_DIR;
  const std::set<std::string> not_layered = {"tests", "bench", "tools", "examples", "docs", "build", "build-asan", ".git",
                                             ".ci", "demo"};
  std::vector<std::string> unknown;
  for (auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    const std::string name = e.path().filename().string();
    if (not_layered.count(name) || name.rfind("build", 0) == 0 || name[0] == '.') continue;
    bool has_code = false;
    for (auto& f : fs::recursive_directory_iterator(e.path())) {
      const std::string ext = f.path().extension().string();
      has_code = has_code || ext == ".cpp" || ext == ".h" || ext == ".cu";
    }
    if (has_code && !layer_of(name + "/x")) unknown.push_back(name);
  }
  for (auto& u : unknown) MESSAGE("folder with code but no layer: " << u);
  CHECK(unknown.empty());
}
