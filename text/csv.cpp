// csv.cpp — see csv.h. A single pass over the text: at the start of each field it is either
// quoted (read to the closing quote) or not (read to the delimiter or the line break).
#include "text/csv.h"

#include "tensor/error.h"
#include "tensor/file_io.h"

namespace cxr::text {

namespace {

// Length of the line break at text[i]: 2 for CRLF, 1 for LF or a lone CR, 0 for anything else.
size_t line_break_length(std::string_view text, size_t i) {
  if (i >= text.size()) return 0;
  if (text[i] == '\n') return 1;
  if (text[i] == '\r') return i + 1 < text.size() && text[i + 1] == '\n' ? 2 : 1;
  return 0;
}

}  // namespace

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
  const char delim = options.delimiter;
  CXR_CHECK(delim != '"' && delim != '\n' && delim != '\r', "parse_csv: invalid delimiter");
  const size_t n = text.size();
  size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;  // UTF-8 byte-order mark
  int64_t line = 1;
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> starts;
  std::vector<std::string> record;
  bool in_record = false;
  while (i < n) {
    if (!in_record) {
      if (size_t b = line_break_length(text, i)) {  // a blank line between records
        ++line, i += b;
        continue;
      }
      in_record = true;
      starts.push_back(line);
    }
    // At the start of a field.
    std::string field;
    if (text[i] == '"') {
      const int64_t open_line = line;
      for (++i;;) {
        if (i >= n) fail(source, ":", open_line, ": unterminated quoted field (the file ends inside quotes)");
        if (text[i] == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (size_t b = line_break_length(text, i)) {  // kept as written
          field.append(text.substr(i, b));
          ++line, i += b;
          continue;
        }
        field += text[i++];
      }
      // After the closing quote: the delimiter, a line break or the end of the text.
      if (i < n && text[i] != delim && !line_break_length(text, i))
        fail(source, ":", line, ": unexpected character '", std::string(1, text[i]), "' after a closing quote");
    } else {
      while (i < n && text[i] != delim && !line_break_length(text, i)) {
        if (text[i] == '"') fail(source, ":", line, ": a double quote inside an unquoted field");
        field += text[i++];
      }
    }
    record.push_back(std::move(field));
    if (i < n && text[i] == delim) {
      if (++i < n) continue;
      record.emplace_back();  // a trailing delimiter ends the text: one more empty field
    } else if (size_t b = line_break_length(text, i)) {
      ++line, i += b;
    }
    records.push_back(std::move(record));
    record.clear();
    in_record = false;
  }
  if (records.empty()) fail(source, ": empty CSV file (no header)");
  CsvTable table;
  table.source = source;
  table.header = std::move(records[0]);
  const size_t width = table.header.size();
  for (size_t r = 1; r < records.size(); ++r) {
    auto& rec = records[r];
    if (rec.size() != width && options.allow_ragged) {
      while (rec.size() > width && rec.back().empty()) rec.pop_back();
      if (rec.size() < width) rec.resize(width);
    }
    if (rec.size() != width)
      fail(source, ":", starts[r], ": expected ", width, " fields (as the header) but found ", rec.size());
    table.rows.push_back(std::move(rec));
    table.lines.push_back(starts[r]);
  }
  return table;
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) { return parse_csv(read_file(path), path, options); }

std::string csv_field(std::string_view s, char delimiter) {
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t');
  for (char c : s)
    if (c == delimiter || c == '"' || c == '\n' || c == '\r') quote = true;
  // A field starting with a UTF-8 byte-order mark: at the start of a file the reader would skip
  // those bytes as the mark (found by tests/fuzz/fuzz_csv.cpp).
  if (s.substr(0, 3) == "\xEF\xBB\xBF") quote = true;
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

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) { out << csv_record(fields); }

void write_csv(const std::string& path, const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
               char delimiter) {
  std::string text = csv_record(header, delimiter);
  for (size_t r = 0; r < rows.size(); ++r) {
    CXR_CHECK(rows[r].size() == header.size(), path, ": row ", r, " has ", rows[r].size(), " fields, the header ", header.size());
    text += csv_record(rows[r], delimiter);
  }
  write_file_atomic(path, text);
}

}  // namespace cxr::text
