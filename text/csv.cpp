// csv.cpp — see csv.h. A single forward scan; any bytes are accepted inside fields.
#include "text/csv.h"

#include <fstream>

#include "tensor/error.h"

namespace cxr::text {

int CsvTable::column(std::string_view name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return int(i);
  return -1;
}

CsvTable parse_csv(std::string_view text, const std::string& source) {
  CsvTable table;
  std::vector<std::string> record;
  std::string field;
  size_t line = 1, record_line = 1;
  size_t i = 0, record_start = 0;
  const size_t n = text.size();
  auto end_record = [&]() {
    record.push_back(std::move(field));
    field.clear();
    if (record.size() == 1 && record[0].empty() && i - record_start <= 2) {  // a blank line
      record.clear();
      return;
    }
    if (table.header.empty() && table.rows.empty()) {
      table.header = std::move(record);
    } else {
      CXR_CHECK(record.size() == table.header.size(), source, ":", record_line, ": expected ", table.header.size(),
                " fields, got ", record.size());
      table.rows.push_back(std::move(record));
    }
    record.clear();
  };
  if (n == 0) fail(source, ": empty CSV file (no header)");
  while (i < n) {
    // At the start of a field.
    if (text[i] == '"') {
      size_t open_line = line;
      ++i;
      while (true) {
        CXR_CHECK(i < n, source, ":", open_line, ": unterminated quoted field");
        char c = text[i++];
        if (c == '"') {
          if (i < n && text[i] == '"') {
            field.push_back('"');
            ++i;
          } else {
            break;
          }
        } else {
          if (c == '\n') ++line;
          field.push_back(c);
        }
      }
      CXR_CHECK(i >= n || text[i] == ',' || text[i] == '\n' || text[i] == '\r', source, ":", line,
                ": unexpected character after a closing quote");
    } else {
      while (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        CXR_CHECK(text[i] != '"', source, ":", line, ": quote inside an unquoted field");
        field.push_back(text[i++]);
      }
    }
    if (i >= n) {
      end_record();
      break;
    }
    char c = text[i++];
    if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      if (i >= n) {  // a trailing comma ends the file: one more empty field
        end_record();
        break;
      }
      continue;
    }
    // End of record: "\n", "\r\n" or a lone "\r".
    if (c == '\r' && i < n && text[i] == '\n') ++i;
    ++line;
    end_record();
    record_line = line;
    record_start = i;
  }
  CXR_CHECK(!table.header.empty(), source, ": empty CSV file (no header)");
  return table;
}

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), path, ": cannot open CSV file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_csv(bytes, path);
}

std::string csv_field(std::string_view s) {
  bool quote = !s.empty() && (s.front() == ' ' || s.back() == ' ');
  for (char c : s)
    if (c == ',' || c == '"' || c == '\n' || c == '\r') quote = true;
  if (!quote) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void write_csv_row(std::ostream& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out << ',';
    out << csv_field(fields[i]);
  }
  out << '\n';
}

}  // namespace cxr::text
