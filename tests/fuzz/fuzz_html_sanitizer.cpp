// fuzz_html_sanitizer.cpp — fuzz harness for report::sanitize_fragment (report/fragment.h), which
// makes untrusted HTML safe to paste into the report. Properties: the output holds no script,
// style, iframe, svg or math element, every tag is a plain whitelisted one with whitelisted,
// quoted attributes (no event handler, no src/href) and an inert style; it is valid UTF-8;
// sanitizing is idempotent (the output is already in the whitelist's normal form).
#include <algorithm>
#include <cctype>

#include "fuzz_common.h"
#include "report/fragment.h"

namespace {

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t k = 1; k < n; ++k) {
      const unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cxr;
  const std::string out = report::sanitize_fragment({reinterpret_cast<const char*>(data), size});
  std::string lower = out;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  // (text may say "javascript:" or "url(": it is escaped text; only a style value could act on it)
  for (const char* bad : {"<script", "<style", "<iframe", "<object", "<embed", "<svg", "<math"})
    fuzz::require(lower.find(bad) == std::string::npos, "sanitize_fragment: no forbidden markup");
  // Every tag of the output is <name( attr="value")*> or </name>, with whitelisted attribute names
  // and values free of '"' (escaped): no event handler, no src/href can appear.
  for (size_t at = out.find('<'); at != std::string::npos; at = out.find('<', at + 1)) {
    size_t i = at + 1;
    const bool closing = i < out.size() && out[i] == '/';
    if (closing) ++i;
    const size_t name_start = i;
    while (i < out.size() && std::isalnum(static_cast<unsigned char>(out[i]))) ++i;
    fuzz::require(i > name_start, "sanitize_fragment: '<' in text is escaped");
    while (!closing && i < out.size() && out[i] == ' ') {
      const size_t a = ++i;
      while (i < out.size() && out[i] != '=') ++i;
      const std::string name = out.substr(a, i - a);
      fuzz::require(name == "class" || name == "title" || name == "style" || name.rfind("data-", 0) == 0,
                    "sanitize_fragment: whitelisted attribute");
      fuzz::require(out.compare(i, 2, "=\"") == 0, "sanitize_fragment: quoted attribute value");
      const size_t close = out.find('"', i + 2);
      fuzz::require(close != std::string::npos, "sanitize_fragment: terminated attribute value");
      if (name == "style") {
        const std::string value = lower.substr(i + 2, close - i - 2);
        for (const char* bad : {"url", "javascript:", "expression", "@import", "\\"})
          fuzz::require(value.find(bad) == std::string::npos, "sanitize_fragment: inert style");
      }
      i = close + 1;
    }
    fuzz::require(i < out.size() && out[i] == '>', "sanitize_fragment: well-formed tag");
  }
  fuzz::require(valid_utf8(out), "sanitize_fragment: valid UTF-8");
  fuzz::require(report::sanitize_fragment(out) == out, "sanitize_fragment: idempotent");
  return 0;
}
