// base64.h — RFC 4648 base64 (standard alphabet A–Z a–z 0–9 + /, '=' padding), for embedding
// images in the HTML report as data URIs. None of the build's libraries (nlohmann-json, CLI11,
// stb) offers an encoder, so this is a small one of our own.
//   base64_encode: bytes -> text of 4 * ceil(n / 3) characters, no line breaks.
//   base64_decode: the inverse; strict (canonical padding, no whitespace), throws cxr::Error.
#pragma once

#include <string>
#include <string_view>

namespace cxr::report {

std::string base64_encode(std::string_view bytes);
// Throws cxr::Error naming the problem (length not a multiple of 4, a character outside the
// alphabet, misplaced padding, non-zero padding bits).
std::string base64_decode(std::string_view text);

}  // namespace cxr::report
