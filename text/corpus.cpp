// corpus.cpp — CSV and plain-text corpora (see corpus.h).
#include "text/corpus.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace cxr::text {

std::vector<std::vector<std::string>> parse_csv(const std::string& s, const std::string& what) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false, field_started = false;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    rows.push_back(std::move(row));
    row.clear();
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < s.size() && s[i + 1] == '"') field.push_back('"'), ++i;
        else in_quotes = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && !field_started) {
      in_quotes = field_started = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      end_row();
    } else {
      field.push_back(c);
      field_started = true;
    }
  }
  CXR_CHECK(!in_quotes, what, ": unterminated quoted field at the end of the file");
  if (field_started || !row.empty()) end_row();
  return rows;
}

int64_t CsvTable::column(const std::string& name) const {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end()) {
    std::string cols;
    for (const auto& h : header) cols += (cols.empty() ? "" : ", ") + h;
    fail("csv: no column '", name, "' (columns: ", cols, ")");
  }
  return it - header.begin();
}

namespace {
std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, "cannot open ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

CsvTable read_csv(const std::string& path) {
  auto rows = parse_csv(read_file(path), path);
  CXR_CHECK(!rows.empty(), path, ": empty CSV file");
  CsvTable t;
  t.header = std::move(rows[0]);
  for (size_t i = 1; i < rows.size(); ++i) {
    CXR_CHECK(rows[i].size() == t.header.size(), path, ": row ", i, " has ", rows[i].size(), " fields, the header ",
              t.header.size());
    t.rows.push_back(std::move(rows[i]));
  }
  return t;
}

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
    if (ends_with(path, ".csv") || ends_with(path, ".CSV")) {
      CsvTable t = read_csv(path);
      std::vector<int64_t> cols;
      for (const auto& c : options.csv_columns) cols.push_back(t.column(c));
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

std::vector<std::string> split_sentences(const std::string& text) {
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
