// edema.cpp — see edema.h. The loops follow the reference's label_report(): sentences outer,
// keywords inner, a term recorded at its level the first time it is detected.
#include "text/edema.h"

#include <algorithm>
#include <charconv>

#include "tensor/error.h"
#include "tensor/file_io.h"
#include "text/chars.h"
#include "text/report.h"
#include "text/resources.h"

namespace cxr::text {

namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> out;
  for (size_t b = 0;;) {
    size_t tab = line.find('\t', b);
    out.push_back(line.substr(b, tab == std::string_view::npos ? std::string_view::npos : tab - b));
    if (tab == std::string_view::npos) break;
    b = tab + 1;
  }
  return out;
}

// A field as pandas reads it: a field wholly in double quotes is unquoted ("" -> ").
std::string unquote(std::string_view f) {
  if (f.size() < 2 || f.front() != '"' || f.back() != '"') return std::string(f);
  std::string out;
  for (size_t i = 1; i + 1 < f.size(); ++i) {
    out.push_back(f[i]);
    if (f[i] == '"' && i + 2 < f.size() && f[i + 1] == '"') ++i;
  }
  return out;
}

// label_report() for one list: the highest level detected (−1 if none); the detected terms are
// appended per level to by_level in order of first detection.
enum class Tag { kAffirmed, kNegated, kMentioned };
int label_list(const std::vector<std::string_view>& sentences, const std::vector<std::string>& lowered,
               const std::vector<EdemaKeyword>& list, Tag tag, const Negex& negex, const NegexOptions& options,
               std::vector<std::vector<std::string>>& by_level) {
  int label = -1;
  size_t shortest = SIZE_MAX;
  for (const EdemaKeyword& k : list) shortest = std::min(shortest, k.lower.size());
  for (size_t s = 0; s < sentences.size(); ++s) {
    if (lowered[s].size() < shortest) continue;  // (floods of empty sentences in hostile text)
    for (const EdemaKeyword& k : list) {
      if (lowered[s].find(k.lower) == std::string::npos) continue;
      bool detected = true;
      if (tag != Tag::kMentioned) {
        bool negated = negex.is_negated(sentences[s], k.term, options);
        detected = (tag == Tag::kNegated) == negated;
      }
      if (!detected) continue;
      auto& terms = by_level[k.level];
      if (std::find(terms.begin(), terms.end(), k.term) == terms.end()) {
        terms.push_back(k.term);
        label = std::max(label, k.level);
      }
    }
  }
  return label;
}

}  // namespace

std::vector<EdemaKeyword> parse_edema_keywords(std::string_view contents, const std::string& source) {
  std::string text = normalize_newlines(contents);
  std::vector<EdemaKeyword> out;
  int level_col = -1, term_col = -1;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty()) continue;  // pandas skips blank lines
    std::vector<std::string_view> fields = split_tabs(line);
    if (level_col < 0) {
      for (size_t i = 0; i < fields.size(); ++i) {
        std::string name = unquote(fields[i]);
        if (name == "pulmonary_edema_severity") level_col = int(i);
        if (name == "keyword_terms") term_col = int(i);
      }
      CXR_CHECK(level_col >= 0 && term_col >= 0, source, ":", line_no,
                ": header must name the columns pulmonary_edema_severity and keyword_terms (tab-separated)");
      continue;
    }
    size_t need = size_t(std::max(level_col, term_col)) + 1;
    CXR_CHECK(fields.size() >= need, source, ":", line_no, ": expected ", need, " tab-separated fields, got ",
              fields.size());
    EdemaKeyword k;
    std::string level_text(strip(unquote(fields[level_col])));
    auto [ptr, ec] = std::from_chars(level_text.data(), level_text.data() + level_text.size(), k.level);
    CXR_CHECK(ec == std::errc() && ptr == level_text.data() + level_text.size() && k.level >= 0 && k.level <= 3,
              source, ":", line_no, ": severity level must be an integer 0..3, got '", level_text, "'");
    k.term = unquote(fields[term_col]);
    CXR_CHECK(!strip(k.term).empty(), source, ":", line_no, ": empty keyword term");
    k.lower = lower(k.term);
    out.push_back(std::move(k));
  }
  CXR_CHECK(level_col >= 0, source, ": empty keyword file (no header)");
  return out;
}

EdemaKeywords EdemaKeywords::load_dir(const std::string& dir) {
  EdemaKeywords k;
  auto load = [&](const char* name) {
    std::string path = dir + "/" + name;
    return parse_edema_keywords(read_file(path, "keyword file"), path);
  };
  k.affirmed = load("keywords_affirmed.tsv");
  k.negated = load("keywords_negated.tsv");
  k.mentioned = load("keywords_mentioned.tsv");
  return k;
}

EdemaKeywords EdemaKeywords::project_default() {
  EdemaKeywords k;
  auto load = [&](const char* name) {
    std::string res = std::string("edema/") + name;
    return parse_edema_keywords(text_resource(res), "text/data/" + res);
  };
  k.affirmed = load("keywords_affirmed.tsv");
  k.negated = load("keywords_negated.tsv");
  k.mentioned = load("keywords_mentioned.tsv");
  return k;
}

EdemaLabeler::EdemaLabeler(EdemaKeywords keywords, Negex negex, EdemaOptions options)
    : keywords_(std::move(keywords)), negex_(std::move(negex)), options_(options) {}

EdemaResult EdemaLabeler::label(std::string_view report) const {
  std::string extracted;
  if (options_.sections_only) {
    extracted = extract_report_text(report).text;
    report = extracted;
  }
  std::vector<std::string_view> sentences = split_sentences(report);
  std::vector<std::string> lowered;
  lowered.reserve(sentences.size());
  for (auto s : sentences) lowered.push_back(lower(s));

  std::vector<std::vector<std::string>> aff(4), neg(4), men(4);
  EdemaResult r;
  r.affirmed = label_list(sentences, lowered, keywords_.affirmed, Tag::kAffirmed, negex_, options_.negex, aff);
  r.negated = label_list(sentences, lowered, keywords_.negated, Tag::kNegated, negex_, options_.negex, neg);
  r.mentioned = label_list(sentences, lowered, keywords_.mentioned, Tag::kMentioned, negex_, options_.negex, men);
  r.label = std::max({r.affirmed, r.negated, r.mentioned});
  if (r.label >= 0) {
    for (auto* lists : {&aff, &neg, &men})
      for (const auto& t : (*lists)[r.label]) r.keywords.push_back(t);
  }
  return r;
}

}  // namespace cxr::text
