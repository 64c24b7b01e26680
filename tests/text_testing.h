// text_testing.h — helpers for the text/labeler tests: the shared reference data in
// ../shared/data (never copied into the repository; a test that needs it says so visibly and
// passes when it is absent), temporary directories, and running the cxr binary.
#pragma once

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "testing.h"

namespace cxr::testing {

inline std::string shared_data(const std::string& relative) {
  return std::string(CXR_SOURCE_DIR) + "/../shared/data/" + relative;
}

// True when ../shared/data/<relative> exists; otherwise marks the test skipped, visibly (testing.h).
inline bool have_shared_data(const std::string& relative) {
  if (std::filesystem::exists(shared_data(relative))) return true;
  skip_test(shared_data(relative) + " is absent, so this reference check did not run");
  return false;
}

// A fresh directory under the system temporary directory, removed when the object dies.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() / ("cxr_test_" + std::to_string(::getpid()) + "_" + name);
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Runs `build/cxr <args>` through the shell with stdout and stderr captured into files in `dir`;
// returns the exit status.
struct CliResult {
  int status = -1;
  std::string out, err;
};
inline CliResult run_cxr(const std::string& args, const TempDir& dir) {
  std::string out = dir.file("stdout.txt"), err = dir.file("stderr.txt");
  std::string cmd = std::string("'") + CXR_CLI_PATH + "' " + args + " >'" + out + "' 2>'" + err + "'";
  int raw = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_bytes(out);
  r.err = read_bytes(err);
  return r;
}

}  // namespace cxr::testing
