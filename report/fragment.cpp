// fragment.cpp — see fragment.h. A single left-to-right scan: text runs are decoded and escaped;
// at '<' a comment, declaration, closing tag or opening tag is parsed by the HTML tokenizer's
// rules (case-insensitive names, attribute values quoted with " or ' or unquoted).
#include "report/fragment.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <set>
#include <vector>

#include "report/svg.h"

namespace cxr::report {

namespace {

const std::set<std::string>& allowed_tags() {
  static const std::set<std::string> tags = {"span", "mark",       "b",  "strong", "i",   "em", "u",  "s",  "small",
                                             "sub",  "sup",        "br", "p",      "div", "ul", "ol", "li", "code",
                                             "pre",  "blockquote", "h3", "h4",     "h5",  "h6", "hr"};
  return tags;
}
bool is_void(const std::string& tag) { return tag == "br" || tag == "hr"; }
// Elements whose whole content is dropped: their text is not report text (or not text at all).
bool drops_content(const std::string& tag) {
  static const std::set<std::string> tags = {"script",   "style",    "iframe", "object", "embed", "template",
                                             "noscript", "textarea", "title",  "svg",    "math",  "select"};
  return tags.count(tag) > 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes &name; (a few common names) and &#N; / &#xN; references; anything else stays literal.
std::string decode_entities(std::string_view s) {
  static const std::pair<const char*, uint32_t> named[] = {
      {"amp", '&'},   {"lt", '<'},       {"gt", '>'},       {"quot", '"'},      {"apos", '\''},
      {"nbsp", 0xA0}, {"ndash", 0x2013}, {"mdash", 0x2014}, {"hellip", 0x2026}, {"middot", 0xB7}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    size_t semi = s.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 12) {
      out += '&';
      continue;
    }
    std::string_view name = s.substr(i + 1, semi - i - 1);
    bool decoded = false;
    if (name.size() >= 2 && name[0] == '#') {
      bool hex = name[1] == 'x' || name[1] == 'X';
      std::string_view digits = name.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      bool ok = !digits.empty() && digits.size() <= 7;
      for (char c : digits) {
        if (!ok) break;
        int v = std::isdigit(static_cast<unsigned char>(c))           ? c - '0'
                : hex && std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10
                                                                      : -1;
        ok = v >= 0;
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
      }
      if (ok) {
        append_utf8(out, cp);
        decoded = true;
      }
    } else {
      for (const auto& [n, cp] : named) {
        if (name == n) {
          append_utf8(out, cp);
          decoded = true;
          break;
        }
      }
    }
    if (decoded) {
      i = semi;
    } else {
      out += '&';
    }
  }
  return out;
}

// A style value is kept only when nothing in it can load a resource or run code.
bool safe_style(const std::string& decoded) {
  std::string v = lower(decoded);
  for (const char* bad : {"url", "expression", "@import", "javascript:", "\\", "/*", "<", ">", "behavior", "image"})
    if (v.find(bad) != std::string::npos) return false;
  return true;
}

bool safe_attribute_name(const std::string& name) {
  if (name == "class" || name == "title" || name == "style") return true;
  if (name.rfind("data-", 0) != 0 || name.size() == 5) return false;
  return std::all_of(name.begin() + 5, name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '-';
  });
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

struct Tag {
  std::string name;
  bool closing = false, self_closing = false;
  std::vector<std::pair<std::string, std::string>> attributes;  // lower-cased names, raw values
  size_t end = 0;                                               // index just past '>'
};

// Parses the tag starting at html[start] == '<'; false when it is not terminated by '>'.
bool parse_tag(std::string_view html, size_t start, Tag* tag) {
  size_t i = start + 1;
  if (i < html.size() && html[i] == '/') {
    tag->closing = true;
    ++i;
  }
  size_t name_start = i;
  while (i < html.size() && !is_space(html[i]) && html[i] != '/' && html[i] != '>') ++i;
  tag->name = lower(html.substr(name_start, i - name_start));
  while (i < html.size()) {
    while (i < html.size() && (is_space(html[i]) || html[i] == '/')) {
      if (html[i] == '/' && i + 1 < html.size() && html[i + 1] == '>') tag->self_closing = true;
      ++i;
    }
    if (i >= html.size()) return false;
    if (html[i] == '>') {
      tag->end = i + 1;
      return true;
    }
    size_t a = i;
    while (i < html.size() && !is_space(html[i]) && html[i] != '/' && html[i] != '>' && html[i] != '=') ++i;
    if (i == a) ++i;  // a lone '=': skip it
    std::string name = lower(html.substr(a, i - a)), value;
    while (i < html.size() && is_space(html[i])) ++i;
    if (i < html.size() && html[i] == '=') {
      ++i;
      while (i < html.size() && is_space(html[i])) ++i;
      if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
        char q = html[i];
        size_t close = html.find(q, i + 1);
        if (close == std::string_view::npos) return false;
        value = std::string(html.substr(i + 1, close - i - 1));
        i = close + 1;
      } else {
        size_t v = i;
        while (i < html.size() && !is_space(html[i]) && html[i] != '>') ++i;
        value = std::string(html.substr(v, i - v));
      }
    }
    if (!name.empty()) tag->attributes.emplace_back(name, value);
  }
  return false;
}

// Index just past the closing tag </name ...> at or after `from` (case-insensitive), or the end.
// `lowered` is the whole fragment lower-cased.
size_t skip_past_closing(const std::string& lowered, size_t from, const std::string& name) {
  std::string needle = "</" + name;
  for (size_t at = lowered.find(needle, from); at != std::string::npos; at = lowered.find(needle, at + 1)) {
    size_t after = at + needle.size();
    if (after < lowered.size() && !is_space(lowered[after]) && lowered[after] != '>' && lowered[after] != '/') continue;
    size_t gt = lowered.find('>', after);
    return gt == std::string::npos ? lowered.size() : gt + 1;
  }
  return lowered.size();
}

}  // namespace

std::string sanitize_fragment(std::string_view html) {
  std::string out;
  std::vector<std::string> open;  // the kept, not yet closed elements
  const std::string lowered = lower(html);
  size_t i = 0;
  auto flush_text = [&](size_t from, size_t to) {
    if (to > from) out += html_escape(decode_entities(html.substr(from, to - from)));
  };
  size_t text_start = 0;
  while (i < html.size()) {
    if (html[i] != '<') {
      ++i;
      continue;
    }
    char next = i + 1 < html.size() ? html[i + 1] : '\0';
    bool letter = std::isalpha(static_cast<unsigned char>(next));
    bool closing = next == '/' && i + 2 < html.size() && std::isalpha(static_cast<unsigned char>(html[i + 2]));
    if (html.substr(i, 4) == "<!--") {
      flush_text(text_start, i);
      size_t end = html.find("-->", i + 4);
      i = text_start = end == std::string_view::npos ? html.size() : end + 3;
      continue;
    }
    if (next == '!' || next == '?') {
      flush_text(text_start, i);
      size_t end = html.find('>', i);
      i = text_start = end == std::string_view::npos ? html.size() : end + 1;
      continue;
    }
    if (!letter && !closing) {  // a literal '<' in text
      ++i;
      continue;
    }
    Tag tag;
    if (!parse_tag(html, i, &tag)) {  // an unterminated tag: the rest is text
      i = html.size();
      continue;
    }
    flush_text(text_start, i);
    i = text_start = tag.end;
    if (drops_content(tag.name)) {
      if (!tag.closing && !tag.self_closing) i = text_start = skip_past_closing(lowered, tag.end, tag.name);
      continue;
    }
    if (!allowed_tags().count(tag.name)) continue;
    if (tag.closing) {
      auto it = std::find(open.rbegin(), open.rend(), tag.name);
      if (it == open.rend()) continue;  // stray: nothing of ours to close
      size_t keep = static_cast<size_t>(open.rend() - it) - 1;
      while (open.size() > keep) {
        out += "</" + open.back() + ">";
        open.pop_back();
      }
      continue;
    }
    out += "<" + tag.name;
    for (const auto& [name, raw] : tag.attributes) {
      if (!safe_attribute_name(name)) continue;
      std::string value = decode_entities(raw);
      if (name == "style" && !safe_style(value)) continue;
      out += " " + name + "=\"" + html_escape(value) + "\"";
    }
    out += ">";
    if (is_void(tag.name)) continue;
    if (tag.self_closing) {
      out += "</" + tag.name + ">";  // <span/> is an empty element, not one left open
    } else {
      open.push_back(tag.name);
    }
  }
  flush_text(text_start, html.size());
  while (!open.empty()) {
    out += "</" + open.back() + ">";
    open.pop_back();
  }
  return out;
}

}  // namespace cxr::report
