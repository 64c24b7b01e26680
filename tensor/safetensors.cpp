// safetensors.cpp — see safetensors.h. The header is untrusted input: every field is checked
// before any byte of the data is touched.
#include "tensor/safetensors.h"
#include "tensor/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>



namespace cxr {

namespace {
constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // 100 MB, as the reference implementation

// A stored dtype: its code, bytes per element, and the dtype it is read as. F16 and BF16 are
// read-only and widen to float32 exactly.
struct DTypeCode {
  const char* code;
  size_t stored_size;
  DType dtype;
};
constexpr DTypeCode kCodes[] = {{"F32", 4, DType::Float32}, {"F64", 8, DType::Float64}, {"I64", 8, DType::Int64},
                                {"BOOL", 1, DType::Bool},   {"F16", 2, DType::Float32}, {"BF16", 2, DType::Float32}};

float bf16_to_float(uint16_t h) {
  uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float f16_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / nan
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa == 0) {
    bits = sign;  // signed zero
  } else {  // subnormal: value = mantissa * 2^-24
    float f = float(mantissa) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

const char* code_of(DType t) {
  for (const auto& c : kCodes)
    if (c.stored_size == dtype_size(c.dtype))
    if (c.dtype == t) return c.code;
  fail("safetensors: unsupported dtype ", dtype_name(t));
}
}  // namespace

SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& name) {
  auto bad = [&](const auto&... parts) { fail(name, ": invalid safetensors file: ", parts...); };
  if (bytes.size() < 8) bad("only ", bytes.size(), " bytes, shorter than the 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | static_cast<unsigned char>(bytes[i]);
  if (header_len > kMaxHeaderBytes) bad("header length ", header_len, " exceeds the ", kMaxHeaderBytes, " byte limit");
  if (header_len > bytes.size() - 8) bad("header length ", header_len, " runs past the end of the file (", bytes.size(), " bytes)");
  const uint64_t data_begin = 8 + header_len, data_size = bytes.size() - data_begin;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + static_cast<std::ptrdiff_t>(data_begin));
  } catch (const nlohmann::json::exception& e) {
    bad("header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) bad("header is not a JSON object");

  SafetensorsFile file;
  struct Span { uint64_t begin, end; std::string key; };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& entry = it.value();
    if (key == "__metadata__") {
      if (!entry.is_object()) bad("__metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        if (!m.value().is_string()) bad("__metadata__ value for '", m.key(), "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) bad("entry '", key, "' is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) bad("entry '", key, "' has no string dtype");
    if (!entry.contains("shape") || !entry["shape"].is_array()) bad("entry '", key, "' has no shape array");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      bad("entry '", key, "' has no [begin, end] data_offsets");
    std::string code = entry["dtype"].get<std::string>();
    const DTypeCode* dt = nullptr;
    for (const auto& c : kCodes)
      if (code == c.code) dt = &c;
    if (!dt) bad("entry '", key, "' has unsupported dtype '", code, "'");
    Shape shape;
    uint64_t numel = 1;
    for (const auto& s : entry["shape"]) {
      if (!s.is_number_unsigned()) bad("entry '", key, "' has a shape entry that is not a non-negative integer");
      uint64_t v = s.get<uint64_t>();
      if (v > (uint64_t(1) << 40) || (v != 0 && numel > (uint64_t(1) << 40) / v))
        bad("entry '", key, "' has an absurd shape");
      numel *= v;
      shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("entry '", key, "' has non-integer data_offsets");
    uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad("entry '", key, "' data_offsets [", begin, ", ", end, "] lie outside the data section of ", data_size, " bytes");
    uint64_t expected = numel * dt->stored_size;
    if (end - begin != expected)
      bad("entry '", key, "' holds ", end - begin, " bytes but shape ", shape_str(shape), " of ", code, " needs ", expected);
    spans.push_back({begin, end, key});
    Tensor t = empty(shape, {.dtype = dt->dtype});
    const char* src = bytes.data() + data_begin + begin;
    if (dt->stored_size == 2) {  // F16 / BF16 -> float32
      float* out = t.data<float>();
      bool brain = std::strcmp(dt->code, "BF16") == 0;
      for (uint64_t i = 0; i < numel; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = brain ? bf16_to_float(h) : f16_to_float(h);
      }
    } else if (expected) {
      std::memcpy(t.data_ptr(), src, expected);
    }
    if (dt->dtype == DType::Bool) {  // normalize to 0/1 so that every byte is a valid bool
      auto* p = static_cast<unsigned char*>(t.data_ptr());
      for (uint64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
    }
    file.tensors[key] = t;
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end)
      bad("entries '", spans[i - 1].key, "' and '", spans[i].key, "' overlap");
  return file;
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), path, ": cannot open for reading: ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  CXR_CHECK(!in.bad(), path, ": read error");
  return parse_safetensors(ss.str(), path);
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const auto& [key, t] : tensors) {  // std::map: sorted keys, a deterministic file
    // A tensor on another device is written from a host copy.
    Tensor c = contiguous_values(copy_to(t, Device::CPU));
    size_t n = static_cast<size_t>(c.numel()) * dtype_size(c.dtype());
    header[key] = {{"dtype", code_of(c.dtype())}, {"shape", c.shape()}, {"data_offsets", {data.size(), data.size() + n}}};
    data.append(static_cast<const char*>(c.data_ptr()), n);
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((uint64_t(h.size()) >> (8 * i)) & 0xff);
  bytes += h;
  bytes += data;

  write_file_atomic(path, bytes);
}

}  // namespace cxr
