// file_io.cpp — see file_io.h.
#include "tensor/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace cxr {

namespace {
std::atomic<WriteSyscall> write_syscall{&::write};
}  // namespace

ScopedWriteHook::ScopedWriteHook(WriteSyscall hook) : previous_(write_syscall.exchange(hook)) {}
ScopedWriteHook::~ScopedWriteHook() { write_syscall.store(previous_); }

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CXR_CHECK(fd >= 0, path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t w = write_syscall.load()(fd, bytes.data() + written, bytes.size() - written);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      int err = w < 0 ? errno : EIO;  // write(2) returning 0 for a non-empty request: no progress
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(path, ": write failed: ", std::strerror(err));
    }
    written += static_cast<size_t>(w);
  }
  bool synced = ::fsync(fd) == 0;
  int sync_err = errno;
  if (::close(fd) != 0 && synced) synced = false, sync_err = errno;
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = synced ? errno : sync_err;
    ::unlink(tmp.c_str());
    fail(path, ": could not commit the file: ", std::strerror(err));
  }
  // The rename itself is made durable by syncing the directory (best effort: a directory that
  // cannot be opened for reading does not make the write fail).
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  const int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

std::string read_file(const std::string& path, const std::string& what) {
  const std::string cannot_read = what.empty() ? "" : "cannot read " + what + ": ";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": ", cannot_read, "no such file");
  if (std::filesystem::is_directory(path, ec)) fail(path, ": ", cannot_read, "is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in.good()) fail(path, ": cannot open ", what.empty() ? "" : what + " ", "for reading: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail(path, ": read error");
  return ss.str();
}

}  // namespace cxr
