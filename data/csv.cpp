// csv.cpp — see csv.h. A single pass over the text with a three-state machine (field start,
// unquoted field, quoted field); line numbers count LF characters, so a CRLF file and an LF file
// report the same lines.
#include "data/csv.h"
#include "tensor/file_io.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tensor/error.h"

namespace cxr::data {

int64_t CsvTable::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int64_t(i);
  return -1;
}

int64_t CsvTable::require_column(std::string_view name) const {
  int64_t c = column(name);
  if (c < 0) {
    std::string have;
    for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
    fail(source, ": missing column '", name, "' (columns: ", have, ")");
  }
  return c;
}

std::string CsvTable::where(size_t r) const { return source + ":" + std::to_string(r < lines.size() ? lines[r] : 0); }

CsvTable parse_csv(std::string_view text, const std::string& source, const CsvOptions& options) {
  CsvTable table;
  table.source = source;
  const char delim = options.delimiter;
  CXR_CHECK(delim != '"' && delim != '\n' && delim != '\r', "parse_csv: invalid delimiter");
  size_t i = 0;
  if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) i = 3;  // UTF-8 BOM
  int64_t line = 1;
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> starts;
  std::vector<std::string> record;
  std::string field;
  int64_t record_line = 1;
  bool in_record = false;
  const size_t n = text.size();
  while (i < n) {
    // At the start of a field.
    if (!in_record) {
      // Blank lines between records are skipped.
      if (text[i] == '\n') { ++line, ++i; continue; }
      if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') { ++line, i += 2; continue; }
      in_record = true;
      record_line = line;
    }
    field.clear();
    bool end_of_record = false;
    if (text[i] == '"') {
      const int64_t open_line = line;
      ++i;
      for (;;) {
        if (i >= n) fail(source, ":", open_line, ": unterminated quoted field (the file ends inside quotes)");
        char c = text[i];
        if (c == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (c == '\n') ++line;
        field += c;
        ++i;
      }
      // After the closing quote: the delimiter, the end of the record or of the text.
      if (i < n && text[i] != delim && text[i] != '\n' && !(text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') &&
          !(text[i] == '\r' && i + 1 == n))
        fail(source, ":", line, ": unexpected character '", std::string(1, text[i]), "' after a closing quote");
    } else {
      while (i < n && text[i] != delim && text[i] != '\n' && !(text[i] == '\r' && (i + 1 == n || text[i + 1] == '\n'))) {
        if (text[i] == '"') fail(source, ":", line, ": a double quote inside an unquoted field");
        field += text[i++];
      }
    }
    record.push_back(field);
    if (i >= n) {
      end_of_record = true;
    } else if (text[i] == delim) {
      ++i;
      if (i >= n) record.push_back(""), end_of_record = true;  // a trailing delimiter: one more empty field
    } else {
      i += text[i] == '\r' ? 2 : 1;
      if (i > n) i = n;
      ++line;
      end_of_record = true;
    }
    if (end_of_record) {
      records.push_back(std::move(record));
      starts.push_back(record_line);
      record.clear();
      in_record = false;
    }
  }
  if (records.empty()) fail(source, ": empty CSV file (no header)");
  table.header = std::move(records[0]);
  const size_t width = table.header.size();
  for (size_t r = 1; r < records.size(); ++r) {
    auto& rec = records[r];
    if (rec.size() != width) {
      if (options.allow_ragged) {
        while (rec.size() > width && rec.back().empty()) rec.pop_back();
        if (rec.size() < width) rec.resize(width);
      }
      if (rec.size() != width)
        fail(source, ":", starts[r], ": expected ", width, " fields (as the header) but found ", rec.size());
    }
    table.rows.push_back(std::move(rec));
    table.lines.push_back(starts[r]);
  }
  return table;
}

std::string read_text_file(const std::string& path) { return read_file(path); }

void write_text_file(const std::string& path, const std::string& text) { write_file_atomic(path, text); }

CsvTable read_csv(const std::string& path, const CsvOptions& options) { return parse_csv(read_text_file(path), path, options); }

std::string csv_field(std::string_view s, char delimiter) {
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t');
  for (char c : s)
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') quote = true;
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_record(const std::vector<std::string>& fields, char delimiter) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += delimiter;
    out += csv_field(fields[i], delimiter);
  }
  // A record of one empty field would read back as a blank line: quote it.
  if (fields.size() == 1 && fields[0].empty()) out = "\"\"";
  return out + "\n";
}

void write_csv(const std::string& path, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
               char delimiter) {
  std::string text = csv_record(header, delimiter);
  for (size_t r = 0; r < rows.size(); ++r) {
    CXR_CHECK(rows[r].size() == header.size(), path, ": row ", r, " has ", rows[r].size(), " fields, the header ", header.size());
    text += csv_record(rows[r], delimiter);
  }
  write_text_file(path, text);
}

}  // namespace cxr::data
