// chars.h — byte classification with the semantics of Python's `re` and `str` on ASCII text, which
// the reference labeler (Python 3) relies on: \w = [A-Za-z0-9_], \s and str.split()/strip() =
// {\t \n \v \f \r, 0x1C-0x1F, space} (CPython counts the ASCII separators 0x1C-0x1F as whitespace),
// and ASCII-only lower-casing. Text is handled as bytes: a byte >= 0x80 is neither a word character
// nor whitespace and has no case (docs/LABELER.md, "Non-ASCII text", says where that departs from
// Python's Unicode rules).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cxr::text {

constexpr bool is_ascii_alnum(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// Python re \w on ASCII.
constexpr bool is_word(unsigned char c) { return is_ascii_alnum(c) || c == '_'; }
constexpr bool is_word(char c) { return is_word(static_cast<unsigned char>(c)); }
// Python re \s and str.isspace() on ASCII.
constexpr bool is_space(unsigned char c) { return (c >= 9 && c <= 13) || (c >= 28 && c <= 32); }
constexpr bool is_space(char c) { return is_space(static_cast<unsigned char>(c)); }
constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
constexpr char to_upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// Python str.strip() (whitespace as above).
inline std::string_view strip(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// \b at `pos` of `s`: exactly one of the characters around it is a word character (outside the
// string counts as a non-word character).
inline bool is_word_boundary(std::string_view s, size_t pos) {
  bool before = pos > 0 && is_word(s[pos - 1]);
  bool after = pos < s.size() && is_word(s[pos]);
  return before != after;
}

// Case-insensitive (ASCII) equality of s[pos, pos + lit.size()) with `lit`.
inline bool equals_ci_at(std::string_view s, size_t pos, std::string_view lit) {
  if (pos > s.size() || s.size() - pos < lit.size()) return false;
  for (size_t i = 0; i < lit.size(); ++i)
    if (to_lower(s[pos + i]) != to_lower(lit[i])) return false;
  return true;
}

// Python str.split() with no argument: the maximal runs of non-whitespace.
inline void split_whitespace(std::string_view s, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
}

}  // namespace cxr::text
