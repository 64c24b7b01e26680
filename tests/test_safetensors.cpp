// test_safetensors.cpp — the fixture/checkpoint container: round trips of every dtype, atomic
// writes, targeted malformed files (each with the message a user sees), and a few hundred randomly
// mutated files that must each either parse or throw cxr::Error (run under the sanitizers in CI).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "testing.h"

using namespace cxr;
using namespace cxr::testing;

namespace {

std::string valid_file_bytes() {
  std::string path = temp_path("valid.safetensors");
  write_safetensors(path, {{"a", arange(0, 6).reshape({2, 3})}, {"b", tensor({1, 2}, {.dtype = DType::Int64})},
                           {"c", tensor({0.5}, {.dtype = DType::Float64})}, {"m", tensor({1, 0, 1}).to(DType::Bool)}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}

// A file with the given JSON header and `data_bytes` zero bytes of data.
std::string with_header(const std::string& json, size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char((uint64_t(json.size()) >> (8 * i)) & 0xff);
  return bytes + json + std::string(data_bytes, '\0');
}

void expect_error(const std::string& bytes, const std::string& fragment) {
  CHECK_THROWS_WITH_AS(parse_safetensors(bytes, "bad.safetensors"), doctest::Contains(fragment.c_str()), Error);
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind("bad.safetensors: ", 0) == 0);  // names the file first
  }
}
}  // namespace

TEST_CASE("safetensors: round trip of every dtype, views and metadata") {
  std::string path = temp_path("roundtrip.safetensors");
  Tensor f = randn({3, 4});
  Tensor d = randn({2, 2}, {.dtype = DType::Float64});
  Tensor i = randint(-5, 5, {7});
  Tensor b = gt(randn({5}), scalar_tensor(0));
  Tensor view = f.t().slice(0, 1, 3);  // non-contiguous: written as its values
  Tensor empty_t = zeros({0, 3});
  write_safetensors(path, {{"f", f}, {"d", d}, {"i", i}, {"b", b}, {"view", view}, {"empty", empty_t}},
                    {{"format", "pt"}, {"note", "test"}});
  SafetensorsFile r = read_safetensors(path);
  CHECK(r.tensors.size() == 6);
  CHECK(r.tensors["f"].to_vector() == f.to_vector());
  CHECK(r.tensors["d"].dtype() == DType::Float64);
  CHECK(r.tensors["d"].to_vector() == d.to_vector());
  CHECK(r.tensors["i"].to_vector() == i.to_vector());
  CHECK(r.tensors["b"].dtype() == DType::Bool);
  CHECK(r.tensors["b"].to_vector() == b.to_vector());
  CHECK(r.tensors["view"].shape() == Shape{2, 3});
  CHECK(r.tensors["view"].to_vector() == view.to_vector());
  CHECK(r.tensors["empty"].shape() == Shape{0, 3});
  CHECK(r.metadata["note"] == "test");
  std::filesystem::remove(path);
}

TEST_CASE("safetensors: writes are atomic and leave no temporary file") {
  std::string dir = temp_path("atomic_dir");
  std::filesystem::create_directories(dir);
  std::string path = dir + "/ckpt.safetensors";
  write_safetensors(path, {{"x", ones({4})}});
  write_safetensors(path, {{"x", zeros({4})}});  // replaces the old file in one rename
  CHECK(read_safetensors(path).tensors["x"].to_vector() == std::vector<double>(4, 0.0));
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  CHECK(files == 1);
  // A write that cannot happen leaves the existing file untouched.
  CHECK_THROWS_AS(write_safetensors(dir + "/missing/sub/ckpt.safetensors", {{"x", ones({4})}}), Error);
  CHECK(read_safetensors(path).tensors["x"].to_vector() == std::vector<double>(4, 0.0));
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: malformed files are rejected with the file and the problem named") {
  expect_error("", "shorter than the 8-byte header length");
  expect_error(std::string("\x05\0\0\0", 4), "shorter than the 8-byte");
  expect_error(with_header("{}", 0).substr(0, 9), "runs past the end of the file");
  std::string huge(8, '\0');
  huge[7] = 0x7f;
  expect_error(huge, "exceeds the");
  expect_error(with_header("{not json", 0), "not valid JSON");
  expect_error(with_header("[1,2]", 0), "not a JSON object");
  expect_error(with_header(R"({"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}})", 1), "unsupported dtype 'F8_E4M3'");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "needs 8");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 2), "outside the data section");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 8), "outside the data section");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8),
               "overlap");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4), "absurd shape");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "not a non-negative integer");
  expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1]}})", 4), "data_offsets");
  expect_error(with_header(R"({"a":{"shape":[1],"data_offsets":[0,4]}})", 4), "no string dtype");
  expect_error(with_header(R"({"a":5})", 0), "is not an object");
  expect_error(with_header(R"({"__metadata__":{"k":1}})", 0), "is not a string");
  CHECK_THROWS_WITH_AS(read_safetensors("/nonexistent/x.safetensors"), doctest::Contains("/nonexistent/x.safetensors: cannot open"), Error);
}

TEST_CASE("safetensors: 600 mutated files parse or throw, never crash") {
  const std::string valid = valid_file_bytes();
  REQUIRE_NOTHROW(parse_safetensors(valid, "valid"));
  Generator gen(99);
  uint64_t counter = 0;
  auto next = [&](int64_t n) { return gen.integer(counter++, 0, n); };
  int rejected = 0, accepted = 0;
  for (int trial = 0; trial < 600; ++trial) {
    std::string bytes = valid;
    switch (trial % 4) {
      case 0:  // flip random bytes anywhere
        for (int k = 0; k < 1 + next(4); ++k) bytes[next(bytes.size())] = char(next(256));
        break;
      case 1:  // truncate
        bytes.resize(next(bytes.size()));
        break;
      case 2: {  // corrupt a digit or quote of the JSON header
        size_t pos = 8 + next(bytes.size() - 8);
        bytes[pos] = "0123456789\"{}[],:-"[next(18)];
        break;
      }
      case 3:  // rewrite the header length
        for (int i = 0; i < 8; ++i) bytes[i] = char(next(256) * (i < 2 || next(8) == 0));
        break;
    }
    try {
      SafetensorsFile f = parse_safetensors(bytes, "mutated");
      for (auto& [k, t] : f.tensors) (void)t.to_vector();  // touch every byte that was accepted
      ++accepted;
    } catch (const Error& e) {
      CHECK(std::string(e.what()).rfind("mutated: ", 0) == 0);
      ++rejected;
    }
  }
  CHECK(rejected > 300);  // most mutations must be caught...
  CHECK(accepted > 0);    // ...while a flipped data byte is still a valid file
}

TEST_CASE("safetensors: F16 and BF16 are read as float32 exactly") {
  auto le16 = [](std::initializer_list<uint16_t> values) {
    std::string s;
    for (uint16_t v : values) s += char(v & 0xff), s += char(v >> 8);
    return s;
  };
  std::string json = R"({"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]}})";
  std::string bytes = with_header(json, 0) + le16({0x3C00, 0xC000, 0x0001, 0x7C00, 0x8000}) + le16({0x3F80, 0x4049});
  SafetensorsFile f = parse_safetensors(bytes, "half.safetensors");
  Tensor h = f.tensors["h"], b = f.tensors["b"];
  CHECK(h.dtype() == DType::Float32);
  CHECK(h.at({0}) == 1.0);
  CHECK(h.at({1}) == -2.0);
  CHECK(h.at({2}) == std::ldexp(1.0, -24));  // smallest subnormal
  CHECK(std::isinf(h.at({3})));
  CHECK(std::signbit(h.at({4})));
  CHECK(b.at({0}) == 1.0);
  CHECK(b.at({1}) == 3.140625);
}
