// file_io.cpp — see file_io.h.
#include "tensor/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace cxr {

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CXR_CHECK(fd >= 0, path, ": cannot create temporary file ", tmp, ": ", std::strerror(errno));
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(path, ": write failed: ", std::strerror(err));
    }
    written += static_cast<size_t>(w);
  }
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(path, ": could not commit the file: ", std::strerror(err));
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
