// fuzz_image_png.cpp — fuzz harness for our PNG path: the input is read as chunk records
// (4-byte type, 2-byte little-endian length, that many bytes), wrapped into a PNG container with
// correct lengths and CRC-32s (so the fuzzer gets past our CRC check into stb_image's inflate and
// filters), then decoded with data::decode_image. When that succeeds, our encoder round-trips
// it: decode_image(encode_png(pixels, bit_depth)) gives the same pixels.
#include <array>
#include <cstring>

#include "data/image.h"
#include "fuzz_common.h"
#include "ops/ops.h"

namespace {

uint32_t crc32(const std::string& s) {
  return cxr::data::png_crc32(reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

void put_u32be(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xFF));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  std::string png = "\x89PNG\r\n\x1a\n";
  size_t i = 0;
  bool has_end = false;
  while (size - i >= 6) {
    std::string body(reinterpret_cast<const char*>(data + i), 4);
    const size_t len = std::min<size_t>(size_t(data[i + 4]) | size_t(data[i + 5]) << 8, size - i - 6);
    body.append(reinterpret_cast<const char*>(data + i + 6), len);
    i += 6 + len;
    put_u32be(png, static_cast<uint32_t>(len));
    png += body;
    put_u32be(png, crc32(body));
    if (body.compare(0, 4, "IEND") == 0) has_end = true;
  }
  if (!has_end) {
    put_u32be(png, 0);
    png += "IEND";
    put_u32be(png, crc32("IEND"));
  }
  data::Image image;
  if (!fuzz::expect_errors([&] { image = data::decode_image(png, "fuzz.png", {.max_dimension = 2048}); })) return 0;
  // Our encoder writes gray PNGs of the decoded luminance; decoding them must give it back exactly.
  const std::string again = data::encode_png(image.pixels, image.bit_depth);
  data::Image back = data::decode_image(again, "roundtrip.png");
  fuzz::require(back.bit_depth == image.bit_depth && back.channels == 1, "encode_png: depth and gray kept");
  fuzz::require(back.pixels.shape() == image.pixels.shape(), "encode_png: shape kept");
  fuzz::require(std::memcmp(back.pixels.data<float>(), image.pixels.data<float>(),
                            size_t(image.pixels.numel()) * sizeof(float)) == 0,
                "encode_png: pixels kept");
  return 0;
}
