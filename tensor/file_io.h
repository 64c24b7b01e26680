// file_io.h — whole-file reads and atomic writes, shared by every writer of the project
// (safetensors, PNGs, CSVs and manifests, run directories).
//   write_file_atomic: the bytes go to a temporary file in the same directory, are fsync'ed, then
//   renamed over `path`, so a reader (or a crash) sees either the old file or the new one, never a
//   torn one. Errors are cxr::Error naming the file.
#pragma once

#include <string>

namespace cxr {

void write_file_atomic(const std::string& path, const std::string& bytes);
// The whole file; throws naming it when it is missing, a directory or unreadable. `what` names the
// kind of file in those messages ("image": "x.png: cannot read image: no such file").
std::string read_file(const std::string& path, const std::string& what = "");

}  // namespace cxr
