// fuzz_common.h — shared pieces of the fuzz harnesses (tests/fuzz/fuzz_*.cpp, docs/RELIABILITY.md).
// Each harness defines LLVMFuzzerTestOneInput(data, size). It is linked either with libFuzzer (the
// clang build, -DCXR_FUZZ=ON, make fuzz) or with replay_main.cpp (every build: ctest replays the
// committed corpus and regressions). The contract a harness checks: a parser given any bytes
// returns or throws cxr::Error; any other exception, a crash, a sanitizer report, a leak or a hang
// is a bug of the parser. Harnesses for path-based readers write the input to a per-process file.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "tensor/error.h"

namespace cxr::fuzz {

inline std::string bytes_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// A directory private to this process (libFuzzer's -fork/-jobs children get their own), created once.
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    const auto d = std::filesystem::temp_directory_path() / ("cxr_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

// Writes bytes to scratch_dir()/name, creating its directory (plainly: the harness, not the
// parser, owns this file), and returns the path.
inline std::string scratch_file(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

// Splits the input at the first occurrence of `sep` (the whole input and "" when it is absent): lets
// one input carry two strings, e.g. a sentence and a phrase.
inline std::pair<std::string_view, std::string_view> split_once(std::string_view s, std::string_view sep) {
  const size_t at = s.find(sep);
  if (at == std::string_view::npos) return {s, {}};
  return {s.substr(0, at), s.substr(at + sep.size())};
}

// A property the harness checks beyond "does not crash": aborts (a crash for libFuzzer, a failed
// replay for ctest) with a message.
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

// Runs fn; a cxr::Error (the documented reaction to bad input) is swallowed and false returned,
// anything else escapes (and is a bug).
template <typename Fn>
bool expect_errors(Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace cxr::fuzz
