// base64.cpp — see base64.h. Every 3 input bytes (24 bits) become 4 characters of 6 bits each,
// most significant first; a final group of 1 or 2 bytes is zero-padded to 12 or 18 bits and the
// missing characters are written as '='.
#include "report/base64.h"

#include <array>
#include <cstdint>

#include "tensor/error.h"

namespace cxr::report {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The 6-bit value of each character, or -1 for characters outside the alphabet.
constexpr std::array<int8_t, 256> decode_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kDecode = decode_table();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t group = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += kAlphabet[group >> 6 & 63];
    out += kAlphabet[group & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t group = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[group >> 18 & 63];
    out += kAlphabet[group >> 12 & 63];
    out += rest == 2 ? kAlphabet[group >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(std::string_view text) {
  CXR_CHECK(text.size() % 4 == 0, "base64_decode: length ", text.size(), " is not a multiple of 4");
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    // '=' may only end the final group: "xx==" (1 byte) or "xxx=" (2 bytes).
    int padding = 0;
    if (last && text[i + 3] == '=') padding = text[i + 2] == '=' ? 2 : 1;
    uint32_t group = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      int value = 0;
      if (k >= 4 - padding) {
        value = 0;  // a padding '='
      } else {
        value = kDecode[static_cast<unsigned char>(c)];
        CXR_CHECK(value >= 0, "base64_decode: invalid character ",
                  c == '=' ? std::string("'=' (padding before the end)") : "code " + std::to_string(int(uint8_t(c))),
                  " at offset ", i + k);
      }
      group = group << 6 | static_cast<uint32_t>(value);
    }
    // The bits of a padded group below the last byte must be zero (canonical encoding).
    CXR_CHECK((padding == 0 || (group & (padding == 2 ? 0xFFFFu : 0xFFu)) == 0),
              "base64_decode: non-zero padding bits in the final group");
    out += static_cast<char>(group >> 16 & 0xFF);
    if (padding < 2) out += static_cast<char>(group >> 8 & 0xFF);
    if (padding < 1) out += static_cast<char>(group & 0xFF);
  }
  return out;
}

}  // namespace cxr::report
