// safetensors.h — read and write the safetensors format (a little-endian u64 header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the
// raw bytes). Supported dtypes: F32, F64, I64, BOOL; F16 and BF16 are read (as float32). Reading validates everything (sizes, offsets
// inside the data and not overlapping, byte counts matching shapes) and throws cxr::Error naming
// the file and the problem. Writing is atomic: a temporary file, fsync, rename.
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.h"

namespace cxr {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

SafetensorsFile read_safetensors(const std::string& path);
// Parses an in-memory file; `name` is used in error messages.
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name);
void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace cxr
