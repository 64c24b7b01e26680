// file_io.h — whole-file reads and atomic writes, shared by every writer of the project
// (safetensors, PNGs, CSVs and manifests, run directories).
//   write_file_atomic: the bytes go to a temporary file in the same directory, are fsync'ed, then
//   renamed over `path`, so a reader (or a crash) sees either the old file or the new one, never a
//   torn one. Errors are cxr::Error naming the file. A process killed during the write leaves at
//   most the temporary file (`path`.tmp.<pid>) behind, never a partial `path`.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace cxr {

void write_file_atomic(const std::string& path, const std::string& bytes);
// The whole file; throws naming it when it is missing, a directory or unreadable. `what` names the
// kind of file in those messages ("image": "x.png: cannot read image: no such file").
std::string read_file(const std::string& path, const std::string& what = "");

// ---- test seam (tests/test_fault_injection.cpp) ----
// The write(2) that write_file_atomic writes through. A test installs its own for the lifetime of a
// ScopedWriteHook to inject short writes, a failure such as ENOSPC, or a SIGKILL half-way through
// a file; nothing else installs one, and without one ::write is called directly.
using WriteSyscall = ssize_t (*)(int fd, const void* data, size_t size);
class ScopedWriteHook {
 public:
  explicit ScopedWriteHook(WriteSyscall hook);
  ~ScopedWriteHook();
  ScopedWriteHook(const ScopedWriteHook&) = delete;
  ScopedWriteHook& operator=(const ScopedWriteHook&) = delete;

 private:
  WriteSyscall previous_;
};

}  // namespace cxr
