// train_testing.h — helpers for the training tests: a small phantom dataset generated once per
// machine (cached under the temp directory, created atomically so parallel test processes share
// it), running the cxr CLI (to completion, or in the background for a test to kill), and the rule for skipping learning tests where they would take minutes.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tensor/cpu/runtime.h"
#include "train/options.h"
#include "testing.h"

extern char** environ;

namespace cxr::testing {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CliRun {
  int exit_code = -1;
  std::string out, err;
};

// `launcher cxr ARGS` through the shell, stdout and stderr captured; the launcher is a command-line
// prefix (environment settings, `timeout 120 mpirun -np 2 ...`) or empty.
inline CliRun run_cxr_with(const std::string& launcher, const std::vector<std::string>& args) {
  static int calls = 0;
  const std::string base = fresh_temp_dir("cli" + std::to_string(calls++));
  std::string cmd = (launcher.empty() ? "" : launcher + " ") + shell_quote(CXR_CLI_PATH);
  for (const auto& a : args) cmd += " " + shell_quote(a);
  cmd += " >" + shell_quote(base + "/out") + " 2>" + shell_quote(base + "/err");
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.exit_code = (status != -1 && WIFEXITED(status)) ? WEXITSTATUS(status) : -1;
  r.out = read_text(base + "/out");
  r.err = read_text(base + "/err");
  std::filesystem::remove_all(base);
  return r;
}

inline CliRun run_cxr(const std::vector<std::string>& args) { return run_cxr_with("", args); }

// Starts `cxr ARGS` in the background, stdout and stderr to /dev/null; its pid (-1 when it could
// not start). The caller waits for it (waitpid), e.g. after killing it.
inline pid_t spawn_cxr(const std::vector<std::string>& args) {
  std::vector<std::string> argv_s = args;
  argv_s.insert(argv_s.begin(), CXR_CLI_PATH);
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, CXR_CLI_PATH, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// A directory shared by all test processes of this machine, built once: `build(tmp)` fills a
// private directory, which is then renamed into place (the loser of a race deletes its copy and
// uses the winner's). `marker` is a file whose presence means the directory is complete.
template <typename Build>
std::string cached_directory(const std::string& name, const std::string& marker, Build build) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / name;
  if (fs::exists(dir / marker)) return dir.string();
  const std::string tmp = dir.string() + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp);
  build(tmp);
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp);  // another process won
  REQUIRE_MESSAGE(fs::exists(dir / marker), dir.string(), " was not built");
  return dir.string();
}

// `cxr phantom --n n --seed seed --size size`, cached.
inline std::string phantom_dataset(int n, int seed, int size = 128) {
  const std::string name = "cxr_phantoms_n" + std::to_string(n) + "_s" + std::to_string(seed) + "_" + std::to_string(size);
  return cached_directory(name, "manifest.csv", [&](const std::string& tmp) {
    CliRun r = run_cxr({"phantom", "--n", std::to_string(n), "--seed", std::to_string(seed), "--size",
                        std::to_string(size), "--out", tmp, "--threads", "2"});
    REQUIRE_MESSAGE(r.exit_code == 0, "cxr phantom failed: ", r.err);
  });
}

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

// Learning tests train for hundreds of steps: seconds with the fast kernels in the Release build,
// many minutes with the reference kernels or under the sanitizers. They check learning, not kernels
// (tests/test_cpu_*.cpp hold the fast kernels to the reference ones), so those builds skip them.
inline bool skip_learning_test(const std::string& what) {
  if (kSanitizedBuild) {
    skip_test(what + ": too slow in the unoptimized sanitizer build; the Release build runs it");
    return true;
  }
  if (cpu_kernels() == CpuKernels::Reference) {
    skip_test(what + ": too slow with the reference kernels; the fast-kernel run checks learning");
    return true;
  }
  return false;
}

// Options of a small run on a phantom set: resnet128, few bootstrap replicates, plain progress, a
// log line per step.
inline train::TrainOptions phantom_run(const std::string& method, const std::string& data, const std::string& out) {
  train::TrainOptions o;
  o.method = method;
  o.manifest = data + "/manifest.csv";
  o.out = out;
  o.arch = "resnet128_6_2_1";
  o.batch_size = 16;
  o.epochs = 50;
  o.bootstrap = 100;
  o.progress = 0;
  o.log_every = 1;
  return o;
}

// A metric's value from an eval JSON (docs/RUNS.md), failing the test when it is missing.
inline double metric_value(const nlohmann::json& eval, const std::string& name) {
  REQUIRE_MESSAGE(eval["metrics"].contains(name), "no metric ", name, " in ", eval.dump());
  return eval["metrics"][name]["value"].get<double>();
}

// Tests of the training loop itself (resume, the non-finite stop, freezing) run real training steps
// and do not depend on the kernels: the reference-kernel copy of the suite skips them (minutes there).
inline bool skip_under_reference_kernels(const std::string& what) {
  if (cpu_kernels() != CpuKernels::Reference) return false;
  skip_test(what + ": too slow with the reference kernels and independent of them; the fast-kernel run checks it");
  return true;
}

inline std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

}  // namespace cxr::testing
