// report.cpp — see report.h. Section headers are recognised only at line starts and by looking at
// a bounded prefix of each line, so parsing stays linear on megabyte-long lines.
#include "text/report.h"

#include <algorithm>
#include <array>
#include <filesystem>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "text/chars.h"

namespace cxr::text {

std::string normalize_newlines(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) {
    char c = bytes[i];
    if (c == '\r') {
      out.push_back('\n');
      if (i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string read_report_file(const std::string& path) {
  return normalize_newlines(read_file(path, "report"));
}

std::vector<std::string_view> split_sentences(std::string_view report) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (size_t i = 0; i < report.size(); ++i) {
    if (report[i] == '.' || report[i] == ':') {
      out.push_back(report.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(report.substr(start));
  return out;
}

namespace {

// Known section names: canonical name, then the spellings that map to it (upper case, single
// spaces). Colons and surrounding blanks are removed before the lookup.
struct KnownSection {
  const char* canonical;
  std::array<const char*, 6> aliases;
};
constexpr KnownSection kKnownSections[] = {
    {"FINDINGS", {"FINDINGS", "FINDING"}},
    {"IMPRESSION", {"IMPRESSION", "IMPRESSIONS"}},
    {"CONCLUSION", {"CONCLUSION", "CONCLUSIONS"}},
    {"RECOMMENDATION", {"RECOMMENDATION", "RECOMMENDATIONS", "RECOMMENDATION(S)"}},
    {"FINAL REPORT", {"FINAL REPORT"}},
    {"INDICATION",
     {"INDICATION", "INDICATIONS", "CLINICAL INDICATION", "REASON FOR EXAM", "REASON FOR EXAMINATION",
      "CLINICAL INFORMATION"}},
    {"HISTORY", {"HISTORY", "CLINICAL HISTORY", "MEDICAL HISTORY"}},
    {"COMPARISON", {"COMPARISON", "COMPARISONS"}},
    {"TECHNIQUE", {"TECHNIQUE", "TECHNIQUES"}},
    {"EXAMINATION", {"EXAMINATION", "EXAM", "TYPE OF EXAMINATION", "PROCEDURE"}},
    {"NOTIFICATION", {"NOTIFICATION"}},
    {"ADDENDUM", {"ADDENDUM"}},
    {"WET READ", {"WET READ"}},
};
constexpr size_t kMaxHeaderChars = 40;

// Upper-cases and collapses blanks; returns "" when `s` holds a character a header cannot have.
std::string header_key(std::string_view s) {
  std::string key;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      if (!key.empty() && key.back() != ' ') key.push_back(' ');
    } else if (is_ascii_alnum(static_cast<unsigned char>(c)) || c == '(' || c == ')' || c == '/' || c == '&' ||
               c == '-') {
      key.push_back(to_upper(c));
    } else {
      return "";
    }
  }
  while (!key.empty() && key.back() == ' ') key.pop_back();
  return key;
}

const char* known_canonical(const std::string& key) {
  for (const auto& k : kKnownSections)
    for (const char* alias : k.aliases)
      if (alias && key == alias) return k.canonical;
  return nullptr;
}

bool has_letter_and_no_lowercase(std::string_view s) {
  bool letter = false;
  for (char c : s) {
    if (c >= 'a' && c <= 'z') return false;
    if (c >= 'A' && c <= 'Z') letter = true;
  }
  return letter;
}

// If the line [b, e) of `r` starts with a header, returns true with its canonical name and the
// offset where its body starts.
bool match_header(std::string_view r, size_t b, size_t e, std::string& name, size_t& body_start, size_t& header_at) {
  size_t p = b;
  while (p < e && (r[p] == ' ' || r[p] == '\t')) ++p;
  header_at = p;
  size_t limit = std::min(e, p + kMaxHeaderChars + 2);
  // "NAME:" (a colon within the first kMaxHeaderChars characters).
  for (size_t q = p; q < limit; ++q) {
    if (r[q] != ':') continue;
    std::string_view raw = r.substr(p, q - p);
    std::string key = header_key(raw);
    if (key.empty() || key.size() > kMaxHeaderChars) return false;
    if (const char* canonical = known_canonical(key)) {
      name = canonical;
    } else if (has_letter_and_no_lowercase(raw) && key.size() >= 2) {
      name = key;
    } else {
      return false;
    }
    body_start = q + 1;
    return true;
  }
  // A known name alone on its line.
  if (e - p <= kMaxHeaderChars + 2) {
    std::string key = header_key(r.substr(p, e - p));
    if (const char* canonical = key.empty() ? nullptr : known_canonical(key)) {
      name = canonical;
      body_start = e;
      return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Section> parse_sections(std::string_view report) {
  std::vector<Section> sections;
  Section current;  // the text before the first header
  size_t body_start = 0;
  size_t line_start = 0;
  while (line_start <= report.size()) {
    size_t nl = report.find('\n', line_start);
    size_t line_end = nl == std::string_view::npos ? report.size() : nl;
    // A "\r" ending the line (CRLF text not read through read_report_file) is not part of it.
    size_t content_end = (line_end > line_start && report[line_end - 1] == '\r') ? line_end - 1 : line_end;
    std::string name;
    size_t new_body = 0, header_at = 0;
    if (match_header(report, line_start, content_end, name, new_body, header_at)) {
      current.body = report.substr(body_start, header_at - body_start);
      if (!current.name.empty() || !strip(current.body).empty()) sections.push_back(current);
      current = Section{name, {}, header_at};
      body_start = new_body;
    }
    if (nl == std::string_view::npos) break;
    line_start = nl + 1;
  }
  current.body = report.substr(body_start);
  if (!current.name.empty() || !strip(current.body).empty()) sections.push_back(current);
  return sections;
}

Extraction extract_report_text(std::string_view report) {
  std::vector<Section> sections = parse_sections(report);
  Extraction out;
  for (const Section& s : sections) {
    if (s.name != "FINDINGS" && s.name != "IMPRESSION" && s.name != "CONCLUSION" && s.name != "RECOMMENDATION")
      continue;
    std::string_view body = strip(s.body);
    if (body.empty()) continue;
    if (!out.text.empty()) out.text.push_back('\n');
    out.text.append(body);
  }
  if (!out.text.empty()) {
    out.source = ExtractionSource::kSections;
    return out;
  }
  for (const Section& s : sections) {
    if (s.name != "FINAL REPORT") continue;
    size_t body_offset = s.body.data() - report.data();
    out.text = std::string(strip(report.substr(body_offset)));
    out.source = ExtractionSource::kFinalReport;
    return out;
  }
  out.text = std::string(strip(report));
  out.source = ExtractionSource::kWholeReport;
  return out;
}

const char* extraction_source_name(ExtractionSource s) {
  switch (s) {
    case ExtractionSource::kSections: return "sections";
    case ExtractionSource::kFinalReport: return "final-report";
    case ExtractionSource::kWholeReport: return "whole-report";
  }
  return "?";
}

std::vector<std::string> expand_report_paths(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) fail(p, ": no such report file or directory");
    if (fs::is_directory(st)) {
      std::vector<std::string> files;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        std::string name = entry.path().filename().string();
        if (name.empty() || name[0] == '.') continue;  // hidden files (editor swap files, .DS_Store)
        std::error_code ec2;
        if (entry.is_regular_file(ec2)) files.push_back(entry.path().string());
      }
      if (ec) fail(p, ": cannot list directory: ", ec.message());
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else {
      out.push_back(p);
    }
  }
  return out;
}

}  // namespace cxr::text
