// corpus.cpp — CSV and plain-text corpora (see corpus.h).
#include "text/corpus.h"
#include "text/report.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <sstream>

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace cxr::text {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string join_fields(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& v : values) {
    if (v.empty()) continue;
    if (!out.empty()) out += '\n';
    out += v;
  }
  return out;
}

std::vector<Document> read_corpus(const std::vector<std::string>& paths, const CorpusOptions& options) {
  std::vector<Document> docs;
  for (const auto& path : paths) {
    if (std::filesystem::is_directory(path)) {
      // A directory of report files (e.g. cxr phantom's reports/): one document per file, its
      // Findings/Impression text as the models see it (METHODS.md §1).
      for (const auto& file : expand_report_paths({path})) {
        std::string text = extract_report_text(read_report_file(file)).text;
        if (options.skip_empty && text.find_first_not_of(" \t\n") == std::string::npos) continue;
        docs.push_back({file, std::move(text)});
      }
    } else if (ends_with(path, ".csv") || ends_with(path, ".CSV")) {
      CsvTable t = read_csv(path);
      std::vector<int64_t> cols;
      for (const auto& c : options.csv_columns) {
        int index = t.column(c);
        if (index < 0) {
          std::string names;
          for (const auto& h : t.header) names += (names.empty() ? "" : ", ") + h;
          fail(path, ": no column '", c, "' (columns: ", names, ")");
        }
        cols.push_back(index);
      }
      for (size_t r = 0; r < t.rows.size(); ++r) {
        std::vector<std::string> values;
        for (int64_t c : cols) values.push_back(t.rows[r][static_cast<size_t>(c)]);
        std::string text = join_fields(values);
        if (options.skip_empty && text.empty()) continue;
        docs.push_back({path + ":" + t.rows[r][0], std::move(text)});
      }
    } else {
      std::istringstream in(read_file(path));
      std::string line;
      for (int64_t n = 1; std::getline(in, line); ++n) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (options.skip_empty && line.find_first_not_of(" \t") == std::string::npos) continue;
        docs.push_back({path + ":" + std::to_string(n), line});
      }
    }
  }
  return docs;
}

std::vector<std::string> split_embedding_sentences(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  auto trim_push = [&] {
    size_t a = cur.find_first_not_of(" \t\r\n"), b = cur.find_last_not_of(" \t\r\n");
    if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
    cur.clear();
  };
  auto only_number = [&] {  // cur holds just an enumerator such as " 2"
    size_t a = cur.find_first_not_of(" \t\r\n");
    if (a == std::string::npos) return false;
    for (size_t i = a; i < cur.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(cur[i]))) return false;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      trim_push();
      continue;
    }
    cur.push_back(c);
    bool at_break = i + 1 == text.size() || std::isspace(static_cast<unsigned char>(text[i + 1]));
    if ((c == '.' || c == '!' || c == '?') && at_break) {
      cur.pop_back();
      if (c == '.' && only_number()) {
        cur.push_back(c);
        continue;
      }
      cur.push_back(c);
      trim_push();
    }
  }
  trim_push();
  return out;
}

}  // namespace cxr::text
